//! The hostile-call table of tests/c/hostile.c, compiled against include/sdrt.h and libsdrt
//! and run on the tiny model: every row returns its documented status with a message naming
//! the field, and failing calls leave their out-parameters alone. The table is where new
//! fields and functions get their rows.

mod common;

use common::cbuild::{assert_success, compile, program, run, text, Lang, ASAN_FLAGS};

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
    assert!(n >= 135, "only {n} hostile cases ran\n{}", text(&out));
    eprintln!("{summary}");
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
}
