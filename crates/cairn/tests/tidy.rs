//! Architecture invariants as a test, in the spirit of rust-analyzer's `xtask/src/tidy.rs`: the
//! rules ARCHITECTURE.md states in prose, checked against the workspace's `Cargo.toml` files and
//! sources on disk, so breaking one fails CI with the file, the line and the fix.
//!
//! Rules (each its own test below):
//! - redb only in `cairn-storage`: every other crate stores through its tables.
//! - anyhow only in `cairn-cli` (the binary): library crates return their own thiserror enums.
//! - `cairn-server` depends on no `cairn-*` crate but the `cairn` facade.
//! - `cairn-query` names no model crate (geometry, vectors, graph, text, time series), neither as
//!   a dependency nor in code: models plug in through the access-method registry. Comments may
//!   name them as examples.
//! - every `.rs` file under `crates/*/src` opens with a `//!` module doc.
//! - every `const MAX_*` defined under `crates/*/src` lives in a file named `limits.rs`, so a
//!   crate's bounds can be read in one place. Integration tests (`crates/*/tests`) and benches
//!   are exempt: their bounds size fixtures, not the product.
//! - every crate inherits the workspace lints (`[lints] workspace = true`), so `missing_docs`
//!   and whatever the workspace adds later hold everywhere.
//! - the engine's files stack catalog -> collection -> database -> transaction: `catalog.rs`,
//!   `collection.rs` and `db_inner.rs` name nothing of the layers above them (their modules or
//!   their types), so a lower file never reaches up for a name.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root: this crate sits at `crates/cairn`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One workspace crate: its directory name and parsed manifest.
struct Crate {
    dir: PathBuf,
    name: String,
    manifest_path: PathBuf,
    manifest_text: String,
    manifest: toml::Table,
}

fn crates() -> Vec<Crate> {
    let mut out = Vec::new();
    let crates_dir = workspace_root().join("crates");
    for entry in fs::read_dir(&crates_dir).expect("read crates/") {
        let dir = entry.expect("read crates/ entry").path();
        let manifest_path = dir.join("Cargo.toml");
        let Ok(manifest_text) = fs::read_to_string(&manifest_path) else {
            continue;
        };
        let manifest: toml::Table = manifest_text
            .parse()
            .unwrap_or_else(|e| panic!("{}: not valid TOML: {e}", manifest_path.display()));
        let name = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_else(|| panic!("{}: no [package] name", manifest_path.display()))
            .to_string();
        out.push(Crate {
            dir,
            name,
            manifest_path,
            manifest_text,
            manifest,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 10,
        "found only {} crates under {}",
        out.len(),
        crates_dir.display()
    );
    out
}

/// A dependency of a crate: the package it names and where in the manifest it is declared.
struct Dependency {
    package: String,
    section: String,
    line: usize,
}

/// Every dependency of every kind (normal, dev, build, target-specific), by the package it
/// resolves to (so `foo = { package = "redb" }` counts as redb).
fn dependencies(krate: &Crate) -> Vec<Dependency> {
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(t) = krate.manifest.get(section).and_then(|t| t.as_table()) {
            tables.push((section.to_string(), t));
        }
    }
    if let Some(targets) = krate.manifest.get("target").and_then(|t| t.as_table()) {
        for (cfg, target) in targets {
            for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(t) = target.get(section).and_then(|t| t.as_table()) {
                    tables.push((format!("target.{cfg}.{section}"), t));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (section, table) in tables {
        for (key, value) in table {
            let package = value
                .get("package")
                .and_then(|p| p.as_str())
                .unwrap_or(key)
                .to_string();
            out.push(Dependency {
                line: manifest_line(krate, key),
                package,
                section: section.clone(),
            });
        }
    }
    out
}

/// The 1-based line of the manifest that declares `key` (first match), for messages.
fn manifest_line(krate: &Crate, key: &str) -> usize {
    krate
        .manifest_text
        .lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('"');
            l.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.trim_start_matches('"').trim_start();
                rest.starts_with('=') || rest.starts_with(".workspace") || rest.starts_with(']')
            }) || l.starts_with(&format!("[dependencies.{key}]"))
        })
        .map_or(1, |i| i + 1)
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read source dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A path relative to the workspace root, for messages.
fn rel(path: &Path) -> String {
    let root = workspace_root().canonicalize().expect("workspace root");
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// The code of a line without its `//` comment (a `//` inside a string literal also cuts the
/// line; the rules only look for identifiers, so that can only hide, never invent, a match).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// Fails with every violation, one per line, or passes when there are none.
fn report(rule: &str, violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "tidy rule `{rule}` broken in {} place(s):\n{}\n",
        violations.len(),
        violations.join("\n")
    );
}

/// Violations of "only `allowed` may depend on `package`".
fn dependency_confined(package: &str, allowed: &[&str], fix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for krate in crates() {
        if allowed.contains(&krate.name.as_str()) {
            continue;
        }
        for dep in dependencies(&krate) {
            if dep.package == package {
                out.push(format!(
                    "{}:{}: `{}` depends on `{package}` in [{}]; only {} may. {fix}",
                    rel(&krate.manifest_path),
                    dep.line,
                    krate.name,
                    dep.section,
                    allowed.join(", ")
                ));
            }
        }
    }
    out
}

#[test]
fn redb_only_in_cairn_storage() {
    report(
        "redb only in cairn-storage",
        dependency_confined(
            "redb",
            &["cairn-storage"],
            "Store through cairn-storage's tables (add what is missing there) instead of redb.",
        ),
    );
}

#[test]
fn anyhow_only_in_the_binary() {
    report(
        "anyhow only in cairn-cli",
        dependency_confined(
            "anyhow",
            &["cairn-cli"],
            "Return the crate's own thiserror enum, with variants a caller can act on.",
        ),
    );
}

#[test]
fn server_reaches_the_engine_only_through_the_facade() {
    let mut violations = Vec::new();
    for krate in crates().into_iter().filter(|c| c.name == "cairn-server") {
        for dep in dependencies(&krate) {
            if dep.package.starts_with("cairn-") {
                violations.push(format!(
                    "{}:{}: cairn-server depends on `{}` in [{}]; it may use only the `cairn` \
                     facade. Re-export what it needs from crates/cairn/src/lib.rs and depend on \
                     `cairn`.",
                    rel(&krate.manifest_path),
                    dep.line,
                    dep.package,
                    dep.section
                ));
            }
        }
    }
    report("cairn-server only through the cairn facade", violations);
}

/// The crates of the data models; the query layer must know none of them by name.
const MODEL_CRATES: [&str; 5] = [
    "cairn-geo",
    "cairn-vector",
    "cairn-graph",
    "cairn-text",
    "cairn-timeseries",
];

#[test]
fn query_layer_names_no_model_crate() {
    let fix = "Give the model's operators and index an access method in the model's own crate and \
               register it from the `cairn` facade (see cairn-query's `access` module).";
    let mut violations = Vec::new();
    for krate in crates().into_iter().filter(|c| c.name == "cairn-query") {
        for dep in dependencies(&krate) {
            if MODEL_CRATES.contains(&dep.package.as_str()) {
                violations.push(format!(
                    "{}:{}: cairn-query depends on model crate `{}` in [{}]. {fix}",
                    rel(&krate.manifest_path),
                    dep.line,
                    dep.package,
                    dep.section
                ));
            }
        }
        for sub in ["src", "tests", "benches", "examples"] {
            for file in rust_files(&krate.dir.join(sub)) {
                let text = fs::read_to_string(&file).expect("read source");
                for (i, line) in text.lines().enumerate() {
                    let code = code_of(line);
                    for model in MODEL_CRATES {
                        let ident = model.replace('-', "_");
                        if code.contains(&ident) {
                            violations.push(format!(
                                "{}:{}: cairn-query code names `{ident}`. {fix}",
                                rel(&file),
                                i + 1
                            ));
                        }
                    }
                }
            }
        }
    }
    report("cairn-query names no model crate", violations);
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let mut violations = Vec::new();
    for krate in crates() {
        for file in rust_files(&krate.dir.join("src")) {
            let text = fs::read_to_string(&file).expect("read source");
            if !text.starts_with("//!") {
                violations.push(format!(
                    "{}:1: does not open with a `//!` module doc. Start the file with `//!` lines \
                     saying what the module owns and why it is separate.",
                    rel(&file)
                ));
            }
        }
    }
    report("every source file opens with //!", violations);
}

/// Whether a line of code defines a constant named `MAX_*` (any visibility).
fn defines_max_const(code: &str) -> bool {
    let mut words = code.split_whitespace().skip_while(|w| w.starts_with("pub"));
    words.next() == Some("const") && words.next().is_some_and(|name| name.starts_with("MAX_"))
}

#[test]
fn every_max_constant_lives_in_a_limits_file() {
    let mut violations = Vec::new();
    for krate in crates() {
        for file in rust_files(&krate.dir.join("src")) {
            if file.file_name().is_some_and(|n| n == "limits.rs") {
                continue;
            }
            let text = fs::read_to_string(&file).expect("read source");
            for (i, line) in text.lines().enumerate() {
                if defines_max_const(code_of(line)) {
                    violations.push(format!(
                        "{}:{}: `{}` is defined outside a `limits.rs`. Move it, with its doc \
                         comment, to the crate's (or the module's) `limits.rs` and import it \
                         from there (re-export it where a public path must stay).",
                        rel(&file),
                        i + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    report("every MAX_* in a limits.rs", violations);
}

#[test]
fn every_crate_inherits_the_workspace_lints() {
    let mut violations = Vec::new();
    for krate in crates() {
        let inherits = krate
            .manifest
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool())
            == Some(true);
        if !inherits {
            violations.push(format!(
                "{}:1: `{}` does not inherit the workspace lints. Add `[lints]` with \
                 `workspace = true` after its [package] table (and no lint tables of its own).",
                rel(&krate.manifest_path),
                krate.name
            ));
        }
    }
    report("every crate inherits [workspace.lints]", violations);
}

#[test]
fn max_constant_detection_sees_every_visibility() {
    assert!(defines_max_const("const MAX_A: usize = 1;"));
    assert!(defines_max_const("    pub const MAX_A: usize = 1;"));
    assert!(defines_max_const("pub(crate) const MAX_A: usize = 1;"));
    assert!(!defines_max_const("const MIN_A: usize = 1;"));
    assert!(!defines_max_const("let x = MAX_A;"));
    assert!(!defines_max_const(code_of("// const MAX_A: usize = 1;")));
}

/// One layer of the engine's stack (bottom first): a file and what sits above it.
struct EngineLayer {
    file: &'static str,
    /// Modules above this layer (`crate::NAME` must not appear in its code).
    modules_above: &'static [&'static str],
    /// Types defined above this layer, also reachable through the crate root's re-exports.
    types_above: &'static [&'static str],
}

/// catalog -> collection -> database (internals) -> transaction -> the public handle.
const ENGINE_STACK: [EngineLayer; 3] = [
    EngineLayer {
        file: "catalog.rs",
        modules_above: &["collection", "db_inner", "txn", "database"],
        types_above: &[
            "CollectionHandle",
            "CollectionHandles",
            "DbInner",
            "Transaction",
            "Database",
        ],
    },
    EngineLayer {
        file: "collection.rs",
        modules_above: &["db_inner", "txn", "database"],
        types_above: &["DbInner", "Transaction", "Database"],
    },
    EngineLayer {
        file: "db_inner.rs",
        modules_above: &["txn", "database"],
        types_above: &["Transaction", "Database"],
    },
];

/// The identifiers of a line of code, in order.
fn identifiers(code: &str) -> impl Iterator<Item = &str> {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// Violations of the engine's stack in one file's text.
fn engine_layer_violations(layer: &EngineLayer, file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = code_of(line);
        let modules = layer
            .modules_above
            .iter()
            .filter(|m| {
                code.contains(&format!("crate::{m}")) || code.contains(&format!("super::{m}"))
            })
            .map(|m| format!("module `{m}`"));
        let types = identifiers(code)
            .filter(|w| layer.types_above.contains(w))
            .map(|w| format!("type `{w}`"));
        for name in modules.chain(types) {
            out.push(format!(
                "{file}:{}: names {name}, which sits above `{}` in the engine's stack (catalog -> \
                 collection -> database -> transaction). Move what the lower file needs down to \
                 it, or the code that needs the upper name up.",
                i + 1,
                layer.file
            ));
        }
    }
    out
}

#[test]
fn engine_files_never_reach_up_the_stack() {
    let src = workspace_root().join("crates/cairn-engine/src");
    let mut violations = Vec::new();
    for layer in &ENGINE_STACK {
        let path = src.join(layer.file);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (the engine's stack names this file)", rel(&path)));
        violations.extend(engine_layer_violations(layer, &rel(&path), &text));
    }
    report("the engine's files never reach up the stack", violations);
}

#[test]
fn engine_stack_detection_sees_paths_and_types_but_not_comments() {
    let layer = &ENGINE_STACK[1];
    let found = |text: &str| engine_layer_violations(layer, "collection.rs", text).len();
    assert_eq!(found("use crate::txn::Transaction;"), 2);
    assert_eq!(found("use crate::Database;"), 1);
    assert_eq!(found("fn f(db: &DbInner) {}"), 1);
    assert_eq!(found("// a Transaction holds handles"), 0);
    assert_eq!(found("let transactions = 1; struct TransactionLog;"), 0);
    assert_eq!(found("use crate::catalog::CollectionMeta;"), 0);
}

/// The public namespaces (`pub mod`) each library crate's `lib.rs` may declare; everything else
/// a crate offers is re-exported flat from its `lib.rs`, as cairn-storage does. Each crate's
/// `//!` doc says why its namespaces are namespaces. A crate missing here fails the rule, so a
/// new crate chooses its surface too.
const PUBLIC_MODULES: [(&str, &[&str]); 17] = [
    ("cairn", &["backup", "catalog", "graph", "lineage"]),
    ("cairn-cluster", &["limits", "linearizability"]),
    ("cairn-doc", &["limits"]),
    ("cairn-engine", &["backup", "layout", "limits"]),
    ("cairn-geo", &["index"]),
    ("cairn-graph", &["entity", "limits"]),
    ("cairn-index", &["keys", "limits", "path_values"]),
    ("cairn-infer", &["limits", "shape"]),
    ("cairn-invariant", &["limits"]),
    ("cairn-query", &["access", "aggregate", "cancel", "limits"]),
    ("cairn-schema", &["limits"]),
    (
        "cairn-server",
        &["auth", "limits", "replication", "routes", "tls"],
    ),
    ("cairn-sql", &["limits", "pg", "source", "text"]),
    ("cairn-storage", &[]),
    ("cairn-text", &["limits", "query"]),
    ("cairn-timeseries", &["chunk", "codec", "limits"]),
    ("cairn-vector", &["limits"]),
];

/// The modules a `lib.rs` declares `pub` (`pub mod name;` or `pub mod name {`), with lines.
fn public_modules(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = code_of(line).trim_start();
        if let Some(rest) = code.strip_prefix("pub mod ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((i + 1, name));
        }
    }
    out
}

#[test]
fn every_crate_exports_a_chosen_surface() {
    let mut violations = Vec::new();
    for krate in crates() {
        let lib = krate.dir.join("src/lib.rs");
        let Ok(text) = fs::read_to_string(&lib) else {
            continue; // a binary-only crate (cairn-cli) has no library surface
        };
        let Some((_, allowed)) = PUBLIC_MODULES.iter().find(|(name, _)| *name == krate.name) else {
            violations.push(format!(
                "{}: `{}` has no entry in tidy.rs's PUBLIC_MODULES. Choose its public namespaces \
                 (often only `limits`) and re-export the rest from lib.rs.",
                rel(&lib),
                krate.name
            ));
            continue;
        };
        for (line, name) in public_modules(&text) {
            if !allowed.contains(&name.as_str()) {
                violations.push(format!(
                    "{}:{line}: `pub mod {name}` is not among `{}`'s public namespaces ({}). Make \
                     it private and re-export the items other crates use from lib.rs, or add it \
                     to PUBLIC_MODULES and say in lib.rs's `//!` doc why it is a namespace.",
                    rel(&lib),
                    krate.name,
                    allowed.join(", ")
                ));
            }
        }
    }
    report("every crate exports a chosen surface", violations);
}

#[test]
fn public_module_detection_sees_declarations_but_not_comments() {
    let text = "//! pub mod doc_only;\nmod private;\npub mod open;\n    pub mod nested {\n\
                pub(crate) mod crate_only;\n// pub mod commented;\npub use a::b;\n";
    let found: Vec<String> = public_modules(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(found, ["open", "nested"]);
}
