fn main() -> std::process::ExitCode {
    harness::cli::main(cases::registry(), &cases::EMBEDDED)
}
