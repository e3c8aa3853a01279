//! Colour on the terminal, as cargo and nextest do it: `--color auto|always|never`, `NO_COLOR`
//! and `CLICOLOR_FORCE` respected (anstream decides), never colour in a file unless `always`.
//! Renderers write ANSI styles unconditionally; the stream strips them where they do not belong.

use std::io::Write as _;
use std::path::Path;

use anstyle::{AnsiColor, Style};

use crate::verdict::Verdict;

pub use anstream::ColorChoice;

/// Sets the choice for the whole process (from `--color`).
pub fn choose(choice: ColorChoice) {
    choice.write_global();
}

pub fn verdict(v: Verdict) -> Style {
    let colour = match v {
        Verdict::Holds => AnsiColor::Green,
        Verdict::Refuted => AnsiColor::Red,
        Verdict::Partial => AnsiColor::Yellow,
        Verdict::Skipped => AnsiColor::Cyan,
        Verdict::Error => AnsiColor::Magenta,
    };
    let style = Style::new().fg_color(Some(colour.into()));
    match v {
        Verdict::Refuted | Verdict::Error => style.bold(),
        _ => style,
    }
}

pub fn heading() -> Style {
    Style::new().bold()
}

/// `text` in `style`.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A verdict word in its colour, padded to `width` (the padding outside the colour codes).
pub fn verdict_word(v: Verdict, width: usize) -> String {
    format!("{}{:pad$}", paint(verdict(v), v.as_str()), "", pad = width.saturating_sub(v.as_str().len()))
}

/// Writes styled text to standard output (coloured or not as chosen) or to a file (plain,
/// unless `--color always`).
pub fn emit(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        None => {
            let mut out = anstream::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
        Some(_) if ColorChoice::global() == ColorChoice::Always => crate::files::emit(path, text),
        Some(_) => crate::files::emit(path, &anstream::adapter::strip_str(text).to_string()),
    }
}
