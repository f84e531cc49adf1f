//! The hostile-call tables of tests/c/hostile.c (on the tiny SD model) and
//! tests/c/hostile_sdxl.c (on the tiny SDXL base and refiner: the SDXL fields, the latents
//! hand-off and `sdrt_images_latents`), compiled against include/sdrt.h and libsdrt: every
//! row returns its documented status with a message naming the field, and failing calls
//! leave their out-parameters alone. The tables are where new fields and functions get their
//! rows.

mod common;

use std::process::Command;

use common::cbuild::{assert_success, compile, program, run, text, Lang, ASAN_FLAGS};

/// The SDXL table's arguments: the base, the refiner, ONNX Runtime.
fn sdxl_args(cmd: &mut Command) {
    let fixtures = common::root().join("tests/fixtures");
    cmd.arg(fixtures.join("tiny-sdxl"))
        .arg(fixtures.join("tiny-sdxl-refiner"))
        .arg(common::ort_library());
}

/// The summary line's count of rows, after checking that none failed.
fn rows(out: &std::process::Output) -> usize {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed") && l.contains("hostile cases"))
        .unwrap_or_else(|| panic!("no summary line\n{}", text(out)));
    assert!(summary.ends_with(", 0 failed"), "{summary}\n{}", text(out));
    eprintln!("{summary}");
    summary.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn every_hostile_call_returns_its_documented_status() {
    common::init_runtime();
    let exe = compile("hostile", Lang::C, &["tests/c/hostile.c"], &[]);
    let mut cmd = program(&exe);
    cmd.arg(common::fixture()).arg(common::ort_library());
    let out = run(cmd);
    assert_success("hostile", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed") && l.contains("hostile cases"))
        .unwrap_or_else(|| panic!("no summary line\n{}", text(&out)));
    let n: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(summary.ends_with(", 0 failed"), "{summary}\n{}", text(&out));
    // The table only grows; fewer rows means some went missing.
    assert!(n >= 180, "only {n} hostile cases ran\n{}", text(&out));
    eprintln!("{summary}");
}

#[test]
fn every_hostile_sdxl_call_returns_its_documented_status() {
    let exe = compile("hostile_sdxl", Lang::C, &["tests/c/hostile_sdxl.c"], &[]);
    let mut cmd = program(&exe);
    sdxl_args(&mut cmd);
    let out = run(cmd);
    assert_success("hostile_sdxl", &out);
    let n = rows(&out);
    assert!(n >= 37, "only {n} hostile SDXL cases ran\n{}", text(&out));
}

/// The same table under AddressSanitizer (leaks included): the rows that moved here from
/// tests/c/api_errors.c keep the coverage they had there. `SDRT_TEST_SANITIZERS=0` skips.
#[test]
#[cfg(target_os = "linux")]
fn the_hostile_table_under_address_sanitizer() {
    if common::skipped("SDRT_TEST_SANITIZERS") {
        return;
    }
    common::init_runtime();
    let exe = compile("hostile_asan", Lang::C, &["tests/c/hostile.c"], ASAN_FLAGS);
    let mut cmd = program(&exe);
    cmd.arg(common::fixture()).arg(common::ort_library()).env(
        "ASAN_OPTIONS",
        "detect_leaks=1:halt_on_error=1:abort_on_error=0",
    );
    let out = run(cmd);
    assert_success("hostile under ASan", &out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("), 0 failed"),
        "{}",
        text(&out)
    );
    let exe = compile(
        "hostile_sdxl_asan",
        Lang::C,
        &["tests/c/hostile_sdxl.c"],
        ASAN_FLAGS,
    );
    let mut cmd = program(&exe);
    sdxl_args(&mut cmd);
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:halt_on_error=1:abort_on_error=0",
    );
    let out = run(cmd);
    assert_success("hostile_sdxl under ASan", &out);
    rows(&out);
}

/// The same table built by clang with AddressSanitizer and UndefinedBehaviorSanitizer (UB is
/// fatal). Needs clang (tools/test.sh installs it); `SDRT_TEST_SANITIZERS=0` skips.
#[test]
#[cfg(target_os = "linux")]
fn the_hostile_table_under_clang_asan_and_ubsan() {
    if common::skipped("SDRT_TEST_SANITIZERS") {
        return;
    }
    common::require_tool("clang", "clang", "SDRT_TEST_SANITIZERS");
    common::init_runtime();
    let flags = [
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=undefined",
        "-fno-omit-frame-pointer",
        "-g",
    ];
    let exe = common::cbuild::compile_with(
        "clang",
        "hostile_clang_san",
        Lang::C,
        &["tests/c/hostile.c"],
        &flags,
    );
    let mut cmd = program(&exe);
    cmd.arg(common::fixture())
        .arg(common::ort_library())
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        )
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let out = run(cmd);
    assert_success("hostile under clang ASan + UBSan", &out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("), 0 failed"),
        "{}",
        text(&out)
    );
    let exe = common::cbuild::compile_with(
        "clang",
        "hostile_sdxl_clang_san",
        Lang::C,
        &["tests/c/hostile_sdxl.c"],
        &flags,
    );
    let mut cmd = program(&exe);
    sdxl_args(&mut cmd);
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:halt_on_error=1:abort_on_error=0",
    )
    .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let out = run(cmd);
    assert_success("hostile_sdxl under clang ASan + UBSan", &out);
    rows(&out);
}
