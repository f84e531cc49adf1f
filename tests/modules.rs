//! The Swift package's C module (bindings/swift/Sources/CSdrt/module.modulemap) and its Swift
//! layer, checked without a Swift toolchain:
//! - clang imports the module from C (`#include` translated to an import) and from
//!   Objective-C (`@import CSdrt;`), and the programs link and run against the cdylib;
//! - every function, type, enumerator and macro include/sdrt.h declares is usable through the
//!   module import alone (a generated source with no `#include` and no `-Iinclude`);
//! - the Swift enums carry the header's numbers, `Configuration`'s defaults are those
//!   `sdrt_generate_params_init` sets, the Swift layer calls every C function and never a
//!   `*_init` macro (Swift cannot expand them);
//! - the shell scripts (xcframework, install, the Swift tests) pass `bash -n` and shellcheck.
//!
//! Needs clang (tools/test.sh installs it, and shellcheck, when missing).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::cbuild::{assert_success, build_dir, cdylib, program, run, C_FLAGS};
use common::header::{declared_names, enum_constants, tags};

fn module_map() -> PathBuf {
    common::root().join("bindings/swift/Sources/CSdrt/module.modulemap")
}

fn header_src() -> String {
    std::fs::read_to_string(common::root().join("include/sdrt.h")).unwrap()
}

fn swift_sources() -> Vec<(PathBuf, String)> {
    let dir = common::root().join("bindings/swift/Sources/Sdrt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "swift"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no Swift sources in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

fn out_dir(name: &str) -> PathBuf {
    let dir = build_dir().join("modules").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// clang with modules on, the package's module map, a fresh module cache in `dir`, and the
/// C test flags (C11 with every warning an error). No `-Iinclude`: the header comes from the
/// module map.
fn clang_with_module(dir: &Path, objc: bool) -> Command {
    let probe = Command::new("clang").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "clang is needed for the module tests (tools/test.sh installs it when missing)"
    );
    let mut cmd = Command::new("clang");
    cmd.current_dir(common::root())
        .args(C_FLAGS)
        .arg("-fmodules")
        .arg(format!(
            "-fmodules-cache-path={}",
            dir.join("cache").display()
        ))
        .arg(format!("-fmodule-map-file={}", module_map().display()));
    if objc {
        cmd.args(["-x", "objective-c"]);
    }
    cmd
}

/// Compiles `source` through the module, links it against the cdylib and runs it.
fn build_and_run(name: &str, source: &str, objc: bool, extra: &[&str]) {
    let dir = out_dir(name);
    let src = dir.join(if objc { "main.m" } else { "main.c" });
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let lib_dir = cdylib().parent().unwrap();
    let mut cmd = clang_with_module(&dir, objc);
    cmd.args(extra)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        // -x applies to the files after it; the rest are link inputs.
        .args(["-x", "none"])
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lsdrt")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()));
    assert_success(&format!("clang {name}"), &run(cmd));
    // The module was built: the import went through the module map, not a textual include.
    let pcm = walk(&dir.join("cache")).into_iter().any(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("CSdrt-")
    });
    assert!(pcm, "{name}: no CSdrt module built in the module cache");
    let out = run(program(&exe));
    assert_success(name, &out);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const VERSION_CHECK: &str = r#"
    sdrt_generate_params gp;
    sdrt_generate_params_init_sized(&gp, (uint32_t)sizeof gp);
    if (gp.struct_size != sizeof gp || gp.steps == 0) return 1;
    if (sdrt_abi_version() != SDRT_ABI_VERSION) return 2;
    if (sdrt_status_str(SDRT_ERROR_CANCELLED) == NULL) return 3;
    return 0;
"#;

#[test]
fn c_includes_the_header_as_the_module() {
    // A plain `#include <sdrt.h>` with -fmodules and the module map becomes an import of
    // CSdrt (the include path is only there so the include resolves to the mapped file).
    let source = format!("#include <sdrt.h>\n\nint main(void) {{{VERSION_CHECK}}}\n");
    build_and_run("c_include", &source, false, &["-Iinclude"]);
}

#[test]
fn objective_c_imports_the_module() {
    let source = format!("@import CSdrt;\n\nint main(void) {{{VERSION_CHECK}}}\n");
    build_and_run("objc_import", &source, true, &[]);
}

/// A translation unit that uses every name the header declares, after `import`.
fn every_declaration(import: &str) -> String {
    let src = header_src();
    let d = declared_names(&src);
    let (enum_tags, struct_tags) = tags(&src);
    let mut out = format!(
        "/* Generated by tests/modules.rs from include/sdrt.h: every declaration, through the \
         module only. */\n{import}\n\n"
    );
    // Macros: each defined, and the function-like *_init macros expand to a call.
    let mut init_calls = Vec::new();
    for m in &d.macros {
        let name = m.split('(').next().unwrap();
        out += &format!("#ifndef {name}\n#error \"{name} is not visible\"\n#endif\n");
        if m.contains('(') {
            let ty = name
                .strip_suffix("_init")
                .unwrap_or_else(|| panic!("function-like macro {m} is not a *_init"));
            init_calls.push(format!(
                "    {{ {ty} v; {name}(&v); if (v.struct_size != sizeof v) return 1; }}\n"
            ));
        }
    }
    // Functions: their addresses need the declarations and, at link time, the symbols.
    out += "\nstatic void (*const functions[])(void) = {\n";
    for f in &d.functions {
        out += &format!("    (void (*)(void))&{f},\n");
    }
    out += "};\n\nint main(void);\nint main(void) {\n";
    out += "    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)\n";
    out += "        if (!functions[i]) return 2;\n";
    for (i, t) in d.types.iter().enumerate() {
        out += &format!("    {{ {t} *t{i} = 0; (void)t{i}; }}\n");
    }
    for (i, t) in enum_tags.iter().enumerate() {
        out += &format!("    {{ enum {t} *e{i} = 0; (void)e{i}; }}\n");
    }
    for (i, t) in struct_tags.iter().enumerate() {
        out += &format!("    {{ struct {t} *s{i} = 0; (void)s{i}; }}\n");
    }
    for c in &d.constants {
        out += &format!("    (void){c};\n");
    }
    for m in &d.macros {
        // The object-like macros with a value (not the include guards).
        if !m.contains('(')
            && m.starts_with("SDRT_")
            && !["SDRT_H", "SDRT_INIT_MACROS"].contains(&m.as_str())
        {
            out += &format!("    (void)({m});\n");
        }
    }
    for call in init_calls {
        out += &call;
    }
    out += "    return 0;\n}\n";
    out
}

#[test]
fn every_declaration_is_visible_through_the_module_import() {
    let d = declared_names(&header_src());
    let counts = (
        d.functions.len(),
        d.constants.len(),
        d.types.len(),
        d.macros.len(),
    );
    assert!(
        counts.0 >= 25 && counts.1 >= 50 && counts.2 >= 20 && counts.3 >= 8,
        "the header parser found too little: {counts:?}"
    );
    build_and_run(
        "every_declaration_c",
        &every_declaration("#pragma clang module import CSdrt"),
        false,
        &["-Wno-cast-function-type"],
    );
    build_and_run(
        "every_declaration_objc",
        &every_declaration("@import CSdrt;"),
        true,
        &["-Wno-cast-function-type"],
    );
}

#[test]
fn without_the_module_the_generated_source_does_not_compile() {
    // The generated source depends on the import: with the import removed it must fail, so
    // the test above cannot pass by accident.
    let dir = out_dir("no_import");
    let src = dir.join("main.c");
    std::fs::write(&src, every_declaration("/* no import */")).unwrap();
    let mut cmd = clang_with_module(&dir, false);
    cmd.arg("-fsyntax-only").arg(&src);
    let out = run(cmd);
    assert!(!out.status.success(), "compiled without the module");
}

// ---------------------------------------------------------------------------------------------
// The Swift layer against the header

/// `case name = 3 // SDRT_X` lines of the Swift sources: constant -> (Swift file, value).
fn swift_mirrors() -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    for (path, text) in swift_sources() {
        for line in text.lines() {
            let t = line.trim();
            let Some(rest) = t.strip_prefix("case ") else {
                continue;
            };
            let Some((lhs, comment)) = rest.split_once("//") else {
                continue;
            };
            let Some((_, value)) = lhs.split_once('=') else {
                continue;
            };
            let constant = comment.trim();
            if !constant.starts_with("SDRT_") {
                continue;
            }
            let value: u64 = value.trim().parse().unwrap_or_else(|_| panic!("{t:?}"));
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                out.insert(constant.to_string(), (file, value)).is_none(),
                "{constant} mirrored twice"
            );
        }
    }
    out
}

#[test]
fn swift_enums_carry_the_header_numbers_and_miss_no_constant() {
    let mirrors = swift_mirrors();
    let constants = enum_constants(&header_src());
    let by_name: BTreeMap<_, _> = constants
        .iter()
        .map(|(e, c, v)| (c.clone(), (e.clone(), *v)))
        .collect();
    for (constant, (file, value)) in &mirrors {
        let (_, want) = by_name
            .get(constant)
            .unwrap_or_else(|| panic!("{file}: {constant} is not in include/sdrt.h"));
        assert_eq!(value, want, "{file}: {constant}");
    }
    // Every C enum is mirrored, and completely.
    let mut missing = Vec::new();
    for (e, c, _) in &constants {
        if !mirrors.contains_key(c) {
            missing.push(format!("{e}::{c}"));
        }
    }
    assert!(
        missing.is_empty(),
        "constants without a Swift case: {missing:?}"
    );
}

#[test]
fn swift_configuration_defaults_are_the_library_defaults() {
    let text = swift_sources()
        .into_iter()
        .find(|(p, _)| p.ends_with("Configuration.swift"))
        .expect("Configuration.swift")
        .1;
    let mut defaults = BTreeMap::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("public var ") {
            if let Some((decl, value)) = rest.split_once(" = ") {
                let name = decl.split(':').next().unwrap().trim().to_string();
                defaults.insert(name, value.trim().to_string());
            }
        }
    }
    let c = sdrt::ffi::params::sdrt_generate_params::default();
    let numbers = [
        ("stepCount", c.steps as f64),
        ("imageCount", c.count as f64),
        ("guidanceScale", c.guidance as f64),
        ("strength", c.strength as f64),
        ("seed", c.seed as f64),
        ("eta", c.eta as f64),
        ("guidanceRescale", c.guidance_rescale as f64),
        ("width", c.width as f64),
        ("height", c.height as f64),
        ("previewEvery", c.preview_every as f64),
        ("memoryLimit", c.memory_limit as f64),
        ("aestheticScore", c.aesthetic_score as f64),
        ("negativeAestheticScore", c.negative_aesthetic_score as f64),
        ("denoisingStart", c.denoising_start as f64),
        ("denoisingEnd", c.denoising_end as f64),
    ];
    for (name, want) in numbers {
        let got = defaults
            .get(name)
            .unwrap_or_else(|| panic!("Configuration.{name} has no default"));
        let got: f64 = got
            .parse()
            .unwrap_or_else(|_| panic!("Configuration.{name} = {got}"));
        // The float fields are Float (f32) on both sides.
        let close = got == want || got as f32 as f64 == want;
        assert!(
            close,
            "Configuration.{name} = {got}, the library's default is {want}"
        );
    }
    // The enum fields default to the header's 0 values.
    for (name, want) in [
        ("schedulerType", (".default", c.scheduler)),
        ("rngType", (".numpy", c.generator)),
        ("predictionType", (".default", c.prediction_type)),
        ("timestepSpacing", (".default", c.timestep_spacing)),
        ("previewKind", (".none", c.preview_kind)),
        ("promptWeighting", (".none", c.prompt_weighting)),
    ] {
        assert_eq!(
            defaults.get(name).map(String::as_str),
            Some(want.0),
            "{name}"
        );
        assert_eq!(
            want.1, 0,
            "{name}: the C default is no longer the first case"
        );
    }
}

#[test]
fn swift_layer_calls_every_function_and_no_init_macro() {
    let d = declared_names(&header_src());
    let swift: String = swift_sources().into_iter().map(|(_, t)| t).collect();
    let calls = |f: &str| {
        swift.match_indices(f).any(|(i, _)| {
            let after = &swift[i + f.len()..];
            let before = swift[..i].chars().next_back();
            after.starts_with('(') && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    let mut missing = Vec::new();
    for f in &d.functions {
        let shadowed = d.macros.iter().any(|m| m.starts_with(&format!("{f}(")));
        if shadowed {
            // C's sizeof macro: Swift must call the _sized function instead.
            assert!(
                !calls(f),
                "the Swift layer calls {f}, a macro in C: use {f}_sized"
            );
            assert!(
                calls(&format!("{f}_sized")),
                "the Swift layer never calls {f}_sized"
            );
        } else if !calls(f) {
            missing.push(f.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "C functions the Swift layer does not call: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Scripts

#[test]
fn shell_scripts_pass_bash_n_and_shellcheck() {
    let scripts = [
        "tools/build_xcframework.sh",
        "tools/fetch_ep.sh",
        "tools/install.sh",
        "tools/test_swift.sh",
    ];
    for s in scripts {
        let mut cmd = Command::new("bash");
        cmd.current_dir(common::root()).arg("-n").arg(s);
        assert_success(&format!("bash -n {s}"), &run(cmd));
    }
    if common::skipped("SDRT_TEST_SHELLCHECK") {
        return;
    }
    common::require_tool("shellcheck", "shellcheck", "SDRT_TEST_SHELLCHECK");
    let mut cmd = Command::new("shellcheck");
    cmd.current_dir(common::root()).args(scripts);
    assert_success("shellcheck", &run(cmd));
}
