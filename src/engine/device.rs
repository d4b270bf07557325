//! Device selection: `auto`, `cpu`, `cuda` or `metal`, with clear errors for builds without them.

use candle_core::Device;

use crate::error::{Error, Result};

/// A device asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The best compiled-in device that is present: CUDA, then Metal, then CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// The first NVIDIA GPU (build with `--features cuda`).
    Cuda,
    /// The Apple GPU (build with `--features metal`).
    Metal,
}

/// Open the device; `auto` falls back to the CPU when no GPU backend is compiled in or present.
pub fn open(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda => cuda(),
        DeviceChoice::Metal => metal(),
        DeviceChoice::Auto => Ok(cuda().or_else(|_| metal()).unwrap_or(Device::Cpu)),
    }
}

/// Short name of a device for reports: `cpu`, `cuda:0`, `metal:0`.
pub fn name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(_) => "cuda:0".to_string(),
        Device::Metal(_) => "metal:0".to_string(),
    }
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device> {
    Device::new_cuda(0).map_err(|e| {
        Error::Device(format!(
            "--device cuda: no usable CUDA GPU ({e}); check `nvidia-smi`, or use --device cpu"
        ))
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device> {
    Err(Error::Device(
        "--device cuda: this summarise was built without CUDA support; rebuild with \
         `cargo build --release --features cuda`, or use --device cpu"
            .into(),
    ))
}

#[cfg(feature = "metal")]
fn metal() -> Result<Device> {
    Device::new_metal(0).map_err(|e| {
        Error::Device(format!(
            "--device metal: no usable Metal GPU ({e}); use --device cpu"
        ))
    })
}

#[cfg(not(feature = "metal"))]
fn metal() -> Result<Device> {
    Err(Error::Device(
        "--device metal: this summarise was built without Metal support; rebuild with \
         `cargo build --release --features metal`, or use --device cpu"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_auto_always_open() {
        assert!(open(DeviceChoice::Cpu).unwrap().is_cpu());
        assert!(open(DeviceChoice::Auto).is_ok());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_feature_says_how_to_rebuild() {
        let err = open(DeviceChoice::Cuda).unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
