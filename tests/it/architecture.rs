//! Architecture rules, checked on the source text (no AWS, no environment variables): the domain
//! and the kernel import no adapter, module imports form no cycle, source files stay short and
//! open with a line saying what they hold.
//!
//! The import graph is read from paths in code (comments, strings and `#[cfg(test)]` modules are
//! left out: a test module is a leaf nothing imports, so it cannot close a cycle). An edge is a
//! `crate::…`, `super::…` or `self::…` path naming another module; a re-export in a `mod.rs` is
//! followed to the module that defines the item. A module using its own submodules is
//! containment, not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be.
const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

/// Every `.rs` file under `dir` (relative to the workspace), sorted.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The code of `text` without comments, string and char literals (kept as `""` and `' '`).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (i == 0 || !ident(chars[i - 1])) && matches!(next, Some('"' | '#')) {
            // A raw string r"…" or r#"…"#, if that is what follows.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            while j < chars.len()
                && !(chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')))
            {
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1 + hashes;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += if next == Some('\\') { 3 } else { 2 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]` (a `mod tests { … }` or a `mod tests;`).
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let (brace, semi) = (after.find('{'), after.find(';'));
        rest = match (brace, semi) {
            (_, Some(s)) if brace.is_none_or(|b| s < b) => &after[s + 1..],
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (k, ch) in after[b..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                &after[end..]
            }
            _ => "",
        };
    }
    out.push_str(rest);
    out
}

/// Every path starting at `prefix` in `code`, as its segments; `use a::{b, c::d}` gives `[a, b]`
/// and `[a, c, d]`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    fn expand(text: &str, base: &[String], out: &mut Vec<Vec<String>>) {
        let mut segments = base.to_vec();
        let mut rest = text.trim_start();
        loop {
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut start = 0;
                for (k, ch) in group.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                expand(&group[start..k], &segments, out);
                                break;
                            }
                        }
                        ',' if depth == 1 => {
                            expand(&group[start..k], &segments, out);
                            start = k + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if len == 0 {
                break;
            }
            segments.push(rest[..len].to_owned());
            match rest[len..].trim_start().strip_prefix("::") {
                Some(tail) => rest = tail.trim_start(),
                None => break,
            }
        }
        if segments.len() > base.len() {
            out.push(segments);
        }
    }
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(&code[at + prefix.len()..], &[], &mut out);
    }
    out
}

/// The modules of a crate's `src/`: module path (`routes::inbox`, the root is ``) to its code.
fn modules(src: &str) -> BTreeMap<String, String> {
    let base = root().join(src);
    let mut out = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(&base).unwrap_or(&file).to_string_lossy().replace('\\', "/");
        let rel = rel.trim_end_matches(".rs");
        if rel == "main" {
            continue; // the binary: another crate, which sees this one only through its public API
        }
        let module = match rel {
            "lib" => String::new(),
            _ => rel.trim_end_matches("/mod").replace('/', "::"),
        };
        out.insert(module, without_tests(&code_only(&read(&file))));
    }
    out
}

fn parent(module: &str) -> String {
    module.rsplit_once("::").map(|(p, _)| p.to_owned()).unwrap_or_default()
}

fn join(base: &str, segment: &str) -> String {
    if base.is_empty() {
        segment.to_owned()
    } else {
        format!("{base}::{segment}")
    }
}

/// The import graph of a crate's modules: module to the modules it names.
fn import_graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    // `pub use child::{A, B}` in a module: A and B are found in `child`.
    let mut reexports: BTreeMap<(String, String), String> = BTreeMap::new();
    for (module, code) in modules {
        for path in paths_after(code, "pub use ") {
            let child = join(module, &path[0]);
            if modules.contains_key(&child) {
                if let Some(name) = path.last() {
                    reexports.insert((module.clone(), name.clone()), child);
                }
            }
        }
    }
    let resolve = |start: String, segments: &[String]| -> String {
        let mut at = start;
        for segment in segments {
            let deeper = join(&at, segment);
            if modules.contains_key(&deeper) {
                at = deeper;
            } else {
                if let Some(target) = reexports.get(&(at.clone(), segment.clone())) {
                    at = target.clone();
                }
                break;
            }
        }
        at
    };
    let mut graph = BTreeMap::new();
    for (module, code) in modules {
        // A file's `super` is its parent module; a `mod.rs` is its directory's module, so the same.
        let mut targets = BTreeSet::new();
        for (prefix, start) in
            [("crate::", String::new()), ("super::", parent(module)), ("self::", module.clone())]
        {
            for path in paths_after(code, prefix) {
                targets.insert(resolve(start.clone(), &path));
            }
        }
        // Using a submodule of one's own is containment (the crate root contains everything).
        targets.retain(|t| t != module && !(module.is_empty() || t.starts_with(&format!("{module}::"))));
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The edges inside each cycle, for the assertion message.
fn describe(graph: &BTreeMap<String, BTreeSet<String>>, found: &[Vec<String>]) -> String {
    found
        .iter()
        .map(|component| {
            let edges: Vec<String> = component
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| component.contains(to))
                        .map(move |to| format!("{from} -> {to}"))
                })
                .collect();
            format!("cycle {component:?}: {}", edges.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The domain and kernel graph, one node per top-level module (`domain::inbox` holds its
/// submodules, if it gets any): the layers the rule is about.
fn domain_graph() -> BTreeMap<String, BTreeSet<String>> {
    let top = |module: &str| module.split("::").take(2).collect::<Vec<_>>().join("::");
    let all = modules("shared/src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in import_graph(&all) {
        if !(from.starts_with("domain") || from.starts_with("kernel")) {
            continue;
        }
        let from = top(&from);
        let entry = graph.entry(from.clone()).or_default();
        entry.extend(
            targets
                .iter()
                .filter(|t| t.starts_with("domain") || t.starts_with("kernel"))
                .map(|t| top(t))
                .filter(|t| *t != from),
        );
    }
    graph
}

#[test]
fn architecture_the_domain_and_the_kernel_import_no_adapter() {
    let mut offending = Vec::new();
    for dir in ["shared/src/domain", "shared/src/kernel"] {
        for file in rust_files(dir) {
            // Doc links count too: a link into the adapters is a dependency on them.
            for (n, line) in read(&file).lines().enumerate() {
                if line.contains("crate::adapters") || line.contains("adapters::") {
                    offending.push(format!("{}:{}: {}", relative(&file), n + 1, line.trim()));
                }
            }
        }
    }
    for file in rust_files("shared/src/kernel") {
        for (n, line) in code_only(&read(&file)).lines().enumerate() {
            if line.contains("crate::domain") {
                offending.push(format!(
                    "{}:{}: the kernel knows no domain: {}",
                    relative(&file),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "the domain and the kernel must not use the adapters:\n{}",
        offending.join("\n")
    );
}

#[test]
fn architecture_the_domain_and_kernel_modules_import_each_other_without_cycles() {
    let graph = domain_graph();
    assert!(graph.contains_key("domain::inbox") && graph.contains_key("kernel::page"), "{graph:?}");
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import cycles among shared/src/domain and kernel modules:\n{}",
        describe(&graph, &found)
    );
}

#[test]
fn architecture_the_api_modules_import_each_other_without_cycles() {
    let graph = import_graph(&modules("functions/api/src"));
    assert!(graph.contains_key("routes::inbox") && graph.contains_key("openapi"), "{graph:?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles among functions/api/src modules:\n{}", describe(&graph, &found));
}

#[test]
fn architecture_no_source_file_is_longer_than_800_lines() {
    let mut offending = Vec::new();
    for dir in ["shared", "functions", "infra", "tests"] {
        for file in rust_files(dir) {
            let name = relative(&file);
            let lines = read(&file).lines().count();
            if lines > MAX_LINES {
                offending.push(format!("{name}: {lines} lines"));
            }
        }
    }
    assert!(offending.is_empty(), "files over {MAX_LINES} lines (split them):\n{}", offending.join("\n"));
}

#[test]
fn architecture_every_module_opens_with_a_line_saying_what_it_holds() {
    let mut offending = Vec::new();
    for dir in ["shared", "functions", "infra", "tests"] {
        for file in rust_files(dir) {
            if !read(&file).starts_with("//! ") {
                offending.push(relative(&file));
            }
        }
    }
    assert!(offending.is_empty(), "modules without an opening `//!` line:\n{}", offending.join("\n"));
}

#[test]
fn architecture_the_reader_sees_code_not_comments_or_strings() {
    let code = code_only("use crate::a; // crate::b\nlet s = \"crate::c\"; let r = r#\"crate::d\"#; let c = '\"'; /* crate::e */ fn f<'a>() {}");
    let found: Vec<Vec<String>> = paths_after(&code, "crate::");
    assert_eq!(found, vec![vec!["a".to_owned()]], "{code}");
    assert!(code.contains("fn f<'a>()"), "{code}");

    let grouped = paths_after("use super::{ids::{A, B}, time::Timestamp, Page};", "super::");
    let expected: Vec<Vec<String>> =
        [vec!["ids", "A"], vec!["ids", "B"], vec!["time", "Timestamp"], vec!["Page"]]
            .iter()
            .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
            .collect();
    assert_eq!(grouped, expected);

    let tests_removed =
        without_tests("use a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n    fn t() { {} }\n}\nuse c;");
    assert_eq!(tests_removed, "use a;\n\nuse c;");
}
