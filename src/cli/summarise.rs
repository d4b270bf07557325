//! `summarise FILE|-`: summarise one article and print it as text or JSON.

use std::io::{IsTerminal, Write};

use super::{Format, RunArgs};
use crate::engine::device;
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::model;
use crate::tasks::summarise::{Summariser, SummaryOptions};
use crate::text::input;

pub(super) fn run(input_spec: &str, args: &RunArgs) -> Result<()> {
    if let Some(t) = args.temperature {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(Error::Usage("--temperature must be 0 or more".into()));
        }
    }
    // Read the input first: a bad file should fail before a model is loaded.
    let article = input::read(input_spec)?;
    let device = device::open(args.device)?;
    let registry = Registry::load()?;
    let spec = model::resolve(args.model.as_deref(), &registry, args.offline)?;
    let mut summariser = Summariser::new(spec, &device, args.engine)?;
    let options = SummaryOptions {
        max_tokens: args.max_tokens as usize,
        temperature: args.temperature,
        seed: args.seed,
        sentences: 3,
    };
    let stream = args.format == Format::Text && std::io::stdout().is_terminal();
    let mut stdout = std::io::stdout().lock();
    let mut on_text = |piece: &str| {
        if stream {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    };
    let report = summariser.summarise(&article, &options, &mut on_text)?;
    let out = match args.format {
        Format::Text if stream => "\n".to_string(),
        Format::Text => format!("{}\n", report.summary),
        Format::Json => serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
    };
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .at("<stdout>")
}
