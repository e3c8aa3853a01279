//! Byte order, alignment and type sizes: what a program must mind before putting data on the wire.
//! Conversions are called in the C library itself (looked up with dlsym), not re-implemented.

use std::mem::{align_of, offset_of, size_of};

use harness::obs::call;
use harness::{Case, Ctx, Decision};
use proptest::prelude::*;

use crate::socket::{bind_v4, local_port, name_bytes, socket, LOOPBACK};
use crate::util::{hex, libc_symbol};

pub const CASES: &[Case] = &[
    Case::new(
        "socket.order.endianness",
        &["socket.order.big_endian_high_byte_first", "socket.order.x86_little_endian"],
        endianness,
    ),
    Case::new("socket.order.network_order", &["socket.order.network_order_is_big_endian"], network_order),
    Case::new("socket.order.conversion_functions", &["socket.order.conversion_functions"], conversion_functions),
    Case::new(
        "socket.order.alignment_and_packing",
        &["socket.order.layout_struct_size_not_sum", "socket.order.layout_packed_for_the_wire"],
        alignment_and_packing,
    ),
    Case::new(
        "socket.order.type_sizes",
        &[
            "socket.order.types_int_4_bytes_on_x86",
            "socket.order.types_short_int_long_order",
            "socket.order.types_fixed_width",
        ],
        type_sizes,
    ),
];

const VALUE: u32 = 0x0102_0304;

type Conv32 = extern "C" fn(u32) -> u32;
type Conv16 = extern "C" fn(u16) -> u16;

/// The C library's htonl, ntohl, htons, ntohs.
fn conversions() -> Option<(Conv32, Conv32, Conv16, Conv16)> {
    // SAFETY: each symbol is the C function of that prototype (arpa/inet.h).
    unsafe {
        Some((
            std::mem::transmute::<*mut libc::c_void, Conv32>(libc_symbol("htonl")?),
            std::mem::transmute::<*mut libc::c_void, Conv32>(libc_symbol("ntohl")?),
            std::mem::transmute::<*mut libc::c_void, Conv16>(libc_symbol("htons")?),
            std::mem::transmute::<*mut libc::c_void, Conv16>(libc_symbol("ntohs")?),
        ))
    }
}

fn endianness(ctx: &mut Ctx) -> anyhow::Result<()> {
    let native = VALUE.to_ne_bytes();
    let Some((htonl, ..)) = conversions() else {
        ctx.decide(
            "socket.order.big_endian_high_byte_first",
            Decision::skipped("no htonl in the C library's dynamic symbols"),
        );
        ctx.decide("socket.order.x86_little_endian", Decision::skipped("no htonl in the C library's dynamic symbols"));
        return Ok(());
    };
    let network = htonl(VALUE).to_ne_bytes();
    ctx.observe("0x01020304 in memory, host order, lowest address first", hex(&native));
    ctx.observe("htonl(0x01020304) in memory (big-endian, network order)", hex(&network));
    ctx.observe("architecture", std::env::consts::ARCH);
    ctx.check(
        "socket.order.big_endian_high_byte_first",
        network == [1, 2, 3, 4],
        "in big-endian (network) order the most significant byte 0x01 sat at the lowest address and 0x04 at the highest",
        "the big-endian form did not put the high byte first (see observation)",
    );
    let decision = match (cfg!(any(target_arch = "x86", target_arch = "x86_64")), native == [4, 3, 2, 1]) {
        (true, true) => {
            Decision::holds("this x86 machine stored the least significant byte 0x04 at the lowest address")
        }
        (true, false) => Decision::refuted("this x86 machine stored 0x01020304 otherwise (see observation)"),
        (false, _) => Decision::skipped(format!(
            "not x86: this is {} ({}-endian)",
            std::env::consts::ARCH,
            if native == [4, 3, 2, 1] { "little" } else { "big" }
        )),
    };
    ctx.decide("socket.order.x86_little_endian", decision);
    Ok(())
}

fn network_order(ctx: &mut Ctx) -> anyhow::Result<()> {
    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&udp, LOOPBACK, 0)?;
    let port = local_port(&udp)?;
    let (raw, len) = name_bytes(&udp, 16)?;
    let port_bytes = [raw[2], raw[3]];
    ctx.observe("getsockname of a UDP socket on 127.0.0.1: length", len);
    ctx.observe("  sin_addr bytes", hex(&raw[4..8]));
    ctx.observe("  sin_port bytes are the port big-endian", port_bytes == port.to_be_bytes());
    ctx.observe(
        "  and differ from the host's order of the port",
        port_bytes != port.to_ne_bytes() || port.to_be() == port,
    );
    ctx.check(
        "socket.order.network_order_is_big_endian",
        raw[4..8] == [127, 0, 0, 1] && port_bytes == port.to_be_bytes(),
        "the kernel kept 127.0.0.1 as 7f 00 00 01 and the port most significant byte first: network order is big-endian, unlike this host's",
        "the kernel's sockaddr was not in big-endian order (see observation)",
    );
    Ok(())
}

fn conversion_functions(ctx: &mut Ctx) -> anyhow::Result<()> {
    let Some((htonl, ntohl, htons, ntohs)) = conversions() else {
        ctx.decide(
            "socket.order.conversion_functions",
            Decision::skipped("no htonl/htons/ntohl/ntohs in the C library's dynamic symbols"),
        );
        return Ok(());
    };
    let outcome = ctx.property((any::<u32>(), any::<u16>()), 256, 4096, |(long, short)| {
        prop_assert_eq!(htonl(long).to_ne_bytes(), long.to_be_bytes(), "htonl({:#x})", long);
        prop_assert_eq!(htons(short).to_ne_bytes(), short.to_be_bytes(), "htons({:#x})", short);
        prop_assert_eq!(ntohl(htonl(long)), long);
        prop_assert_eq!(ntohs(htons(short)), short);
        prop_assert_eq!(ntohl(u32::from_ne_bytes(long.to_be_bytes())), long, "ntohl of big-endian bytes");
        Ok(())
    });
    ctx.observe("htons(0x1234) in memory", hex(&htons(0x1234).to_ne_bytes()));
    ctx.observe("property: random 32- and 16-bit values: hton* gives big-endian bytes, ntoh* undoes it", &outcome);
    ctx.check(
        "socket.order.conversion_functions",
        outcome.passed(),
        format!(
            "for {} random values htonl/htons produced big-endian bytes and ntohl/ntohs brought them back",
            outcome.cases
        ),
        format!("a conversion failed: {:?}", outcome.counterexample),
    );
    Ok(())
}

/// A char, an int and a short, laid out as C lays them out.
#[repr(C)]
struct Aligned {
    tag: u8,
    value: u32,
    small: u16,
}

/// The same members with alignment turned off, as `__attribute__((packed))` does in C.
#[repr(C, packed)]
struct Packed {
    tag: u8,
    value: u32,
    small: u16,
}

fn alignment_and_packing(ctx: &mut Ctx) -> anyhow::Result<()> {
    let sum = size_of::<u8>() + size_of::<u32>() + size_of::<u16>();
    let aligned =
        (size_of::<Aligned>(), offset_of!(Aligned, tag), offset_of!(Aligned, value), offset_of!(Aligned, small));
    let packed = (size_of::<Packed>(), offset_of!(Packed, tag), offset_of!(Packed, value), offset_of!(Packed, small));
    // What each would put on the wire: its bytes as one datagram over loopback.
    let rx = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&rx, LOOPBACK, 0)?;
    let tx = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    crate::socket::connect_v4(&tx, LOOPBACK, local_port(&rx)?)?;
    let on_wire = |len: usize| -> Result<usize, nix::errno::Errno> {
        crate::socket::send(&tx, &vec![0u8; len], 0)?;
        crate::socket::recv(&rx, 64, libc::MSG_DONTWAIT).map(|d| d.len())
    };
    let aligned_wire = on_wire(aligned.0);
    let packed_wire = on_wire(packed.0);
    ctx.observe("char + int + short: sum of member sizes", sum);
    ctx.observe("C layout: size, offsets of char, int, short; alignment of int", (aligned, align_of::<u32>()));
    ctx.observe("packed layout: size, offsets", packed);
    ctx.observe("bytes a datagram of each carried", (call(&aligned_wire), call(&packed_wire)));
    ctx.check(
        "socket.order.layout_struct_size_not_sum",
        aligned.0 > sum && aligned.2 == 4,
        format!("the struct took {} bytes for {sum} bytes of members: the int sits on a 4-byte boundary (offset 4) and the end is padded to it", aligned.0),
        "the struct's size was the sum of its members (see observation)",
    );
    ctx.check(
        "socket.order.layout_packed_for_the_wire",
        packed.0 == sum && packed_wire == Ok(sum) && aligned_wire == Ok(aligned.0),
        format!("packed (the compiler told by an attribute: repr(packed) here, __attribute__((packed)) in C) the members sit back to back and {sum} bytes go on the wire instead of {} with padding", aligned.0),
        "packing did not remove the padding (see observation)",
    );
    Ok(())
}

fn type_sizes(ctx: &mut Ctx) -> anyhow::Result<()> {
    // The C compiler's answer (at build time) where there is one; else this target's C ABI as the
    // bindings give it.
    let probed = crate::toolchain::probe("types");
    let numbers: Vec<i128> = probed.unwrap_or("").split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (source, [short, int, long, i32_size, u32_size, i32_min, i32_max, u32_max]) = match numbers[..] {
        [a, b, c, d, e, f, g, h] => ("cc", [a, b, c, d, e, f, g, h]),
        _ => (
            "the Rust libc bindings (no C compiler here)",
            [
                size_of::<libc::c_short>() as i128,
                size_of::<libc::c_int>() as i128,
                size_of::<libc::c_long>() as i128,
                size_of::<i32>() as i128,
                size_of::<u32>() as i128,
                i128::from(i32::MIN),
                i128::from(i32::MAX),
                i128::from(u32::MAX),
            ],
        ),
    };
    let x86 = cfg!(any(target_arch = "x86", target_arch = "x86_64"));
    ctx.observe("source of the sizes", source);
    ctx.observe("sizeof short, int, long", (short, int, long));
    ctx.observe(
        "sizeof int32_t, uint32_t; INT32_MIN, INT32_MAX; UINT32_MAX",
        ((i32_size, u32_size), (i32_min, i32_max), u32_max),
    );
    ctx.decide(
        "socket.order.types_int_4_bytes_on_x86",
        match (x86, int) {
            (true, 4) => Decision::holds("on this x86 machine an int is 4 bytes"),
            (true, n) => Decision::refuted(format!("on this x86 machine an int is {n} bytes")),
            (false, n) => Decision::skipped(format!("not x86 ({}); an int is {n} bytes here", std::env::consts::ARCH)),
        },
    );
    let decision = if short < int && int < long {
        Decision::holds(format!(
            "short {short} < int {int} < long {long} bytes here (C itself only requires short <= int <= long)"
        ))
    } else if short <= int && int <= long {
        Decision::partial(format!(
            "short {short}, int {int}, long {long} bytes: the order holds only with equality, which C allows"
        ))
    } else {
        Decision::refuted(format!("short {short}, int {int}, long {long} bytes"))
    };
    ctx.decide("socket.order.types_short_int_long_order", decision);
    ctx.check(
        "socket.order.types_fixed_width",
        i32_size == 4 && u32_size == 4 && i32_min == -(1 << 31) && i32_max == (1 << 31) - 1 && u32_max == (1 << 32) - 1,
        "int32_t is exactly 4 bytes, signed (-2^31..2^31-1), and uint32_t 4 bytes unsigned (0..2^32-1)",
        "a fixed-width type is not 32 bits (see observation)",
    );
    Ok(())
}
