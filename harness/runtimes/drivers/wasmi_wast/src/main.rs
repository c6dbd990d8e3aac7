//! `wasmi-wast-mode MODE SCRIPT`: run a WAST script as `wasmi wast` does, with wasmi's
//! compilation mode MODE (eager, lazy-translation, lazy). Errors read as the CLI's do
//! ("failed directive on FILE:LINE:COL"), so the harness parses both alike.

use anyhow::{bail, Context as _, Result};
use wasmi::CompilationMode;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        bail!("usage: wasmi-wast-mode eager|lazy-translation|lazy SCRIPT");
    }
    let mode = match args[1].as_str() {
        "eager" => CompilationMode::Eager,
        "lazy-translation" => CompilationMode::LazyTranslation,
        "lazy" => CompilationMode::Lazy,
        other => bail!("unknown compilation mode {other:?}"),
    };
    let mut config = wasmi::Config::default();
    config.compilation_mode(mode);
    let mut runner = wasmi_wast::WastRunner::new(&config);
    runner.register_spectest().context("failed to register spectest")?;
    let wast = std::fs::read_to_string(&args[2]).with_context(|| format!("failed to read {:?}", args[2]))?;
    runner.process_directives(&args[2], &wast)?;
    Ok(())
}
