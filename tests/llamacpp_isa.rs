//! scripts/llamacpp.sh's choice of instruction sets for the llama.cpp anchor, run as a real
//! subprocess with the CPU flags of the machine kinds these sessions see (and garbage), and
//! the `anchor.build` text `summarise bench` makes of its record.

use std::process::Command;

use summarise::tasks::anchor::describe_build;

fn print_isa(arch: &str, flags: &str) -> String {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/llamacpp.sh"))
        .arg("--print-isa")
        .env("LLAMACPP_ARCH", arch)
        .env("LLAMACPP_CPUFLAGS", flags)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "llamacpp.sh --print-isa failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

const AVX2_EPYC: &str = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c bmi1 avx2 bmi2";
const XEON_AMX: &str = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c bmi1 avx2 bmi2 avx512f \
    avx512dq avx512cd avx512bw avx512vl avx_vnni avx512_bf16 avx512vbmi avx512_vnni \
    avx512_fp16 amx_bf16 amx_tile amx_int8";

#[test]
fn amx_is_never_enabled_even_where_reported() {
    let isa = print_isa("x86_64", XEON_AMX);
    for line in [
        "-DGGML_AMX_TILE=OFF",
        "-DGGML_AMX_INT8=OFF",
        "-DGGML_AMX_BF16=OFF",
    ] {
        assert!(
            isa.lines().any(|l| l == line),
            "{line} missing from:\n{isa}"
        );
    }
    assert!(
        !isa.contains("AMX_TILE=ON") && !isa.contains("NATIVE=ON"),
        "{isa}"
    );
    assert!(isa.contains("# amx reported, not enabled"), "{isa}");
    for on in [
        "AVX512",
        "AVX512_VNNI",
        "AVX512_BF16",
        "AVX512_VBMI",
        "AVX_VNNI",
        "AVX2",
    ] {
        let want = format!("-DGGML_{on}=ON");
        assert!(
            isa.lines().any(|l| l == want),
            "{want} missing from:\n{isa}"
        );
    }
    let build = describe_build(&isa);
    assert!(build.contains("AVX512_VNNI") && build.contains("; amx reported, not enabled"));
}

#[test]
fn an_avx2_machine_gets_avx2_and_no_avx512() {
    let isa = print_isa("x86_64", AVX2_EPYC);
    for on in ["AVX2", "FMA", "F16C", "AVX", "BMI2", "SSE42"] {
        let want = format!("-DGGML_{on}=ON");
        assert!(
            isa.lines().any(|l| l == want),
            "{want} missing from:\n{isa}"
        );
    }
    for off in ["AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI"] {
        let want = format!("-DGGML_{off}=OFF");
        assert!(
            isa.lines().any(|l| l == want),
            "{want} missing from:\n{isa}"
        );
    }
    assert!(!isa.contains("amx reported"));
    assert_eq!(describe_build(&isa), "SSE42 AVX AVX2 FMA F16C BMI2");
}

#[test]
fn partial_avx512_is_not_enabled() {
    // ggml's AVX-512 code needs F, CD, VL, DQ and BW together; VNNI alone must not turn it on.
    let isa = print_isa("x86_64", &format!("{AVX2_EPYC} avx512f avx512_vnni"));
    assert!(isa.lines().any(|l| l == "-DGGML_AVX512=OFF"), "{isa}");
    assert!(isa.lines().any(|l| l == "-DGGML_AVX512_VNNI=OFF"), "{isa}");
}

#[test]
fn garbage_flags_and_other_arches_build_something_that_runs() {
    // No known flag: nothing beyond the x86-64 baseline is switched on.
    let isa = print_isa("x86_64", "%% not flags \t at all ;;");
    assert!(isa.lines().all(|l| !l.ends_with("=ON")), "{isa}");
    assert!(isa.lines().any(|l| l == "-DGGML_NATIVE=OFF"), "{isa}");
    assert_eq!(describe_build(&isa), "no SIMD sets");
    // aarch64 has no AMX problem: ggml's native build.
    let isa = print_isa("aarch64", "");
    assert!(isa.starts_with("-DGGML_NATIVE=ON"), "{isa}");
    assert!(describe_build(&isa).starts_with("NATIVE"));
}
