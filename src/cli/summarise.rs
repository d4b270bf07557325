//! `summarise FILE|- ...`: summarise articles with one loaded model and print each as text,
//! JSON or JSON lines. A file that cannot be read or summarised is named on stderr and the
//! others go on; the exit status is then 1.

use std::io::{IsTerminal, Write};

use super::{Format, RunArgs};
use crate::engine::device;
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::model;
use crate::tasks::summarise::{Summariser, SummaryOptions, SummaryReport};
use crate::text::input;

pub(super) fn run(inputs: &[String], args: &RunArgs) -> Result<()> {
    if let Some(t) = args.temperature {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(Error::Usage("--temperature must be 0 or more".into()));
        }
    }
    if inputs.iter().filter(|i| *i == "-").count() > 1 {
        return Err(Error::Usage(
            "`-` (standard input) can be given only once".into(),
        ));
    }
    // With one input, a bad file fails before a model is loaded.
    let first = match inputs {
        [one] => Some(input::read(one)?),
        _ => None,
    };
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
    let many = inputs.len() > 1;
    let stream = args.format == Format::Text && std::io::stdout().is_terminal();
    let mut stdout = std::io::stdout().lock();
    let (mut reports, mut failed) = (Vec::new(), 0usize);
    let mut first = first;
    for spec in inputs {
        let article = match first.take() {
            Some(a) => Ok(a),
            None => input::read(spec),
        };
        if many && args.format == Format::Text {
            let _ = writeln!(stdout, "== {spec}");
        }
        let mut on_text = |piece: &str| {
            if stream {
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
            }
        };
        let report = article.and_then(|a| summariser.summarise(&a, &options, &mut on_text));
        let report = match report {
            Ok(r) => r,
            Err(e) if many => {
                // Name it and go on: the other articles' work is not lost.
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let out = match args.format {
            Format::Text if stream => "\n".to_string(),
            Format::Text => format!("{}\n", report.summary),
            Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
            Format::Json if many => {
                reports.push(report);
                continue;
            }
            Format::Json => {
                serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
            }
        };
        stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .at("<stdout>")?;
    }
    if args.format == Format::Json && many {
        let all: &[SummaryReport] = &reports;
        let out = serde_json::to_string_pretty(all).expect("reports serialise") + "\n";
        stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .at("<stdout>")?;
    }
    if failed > 0 {
        return Err(Error::Input {
            source_name: format!("{failed} of {} inputs", inputs.len()),
            message: "failed (named above); the others were summarised".into(),
        });
    }
    Ok(())
}
