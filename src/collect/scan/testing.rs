//! The **tests** practice: directories holding tests and files named like tests.

use super::*;

/// Directories whose code files are tests.
pub(super) const TEST_DIRS: &[&str] = &["test", "tests", "__tests__", "spec", "specs"];

/// Extensions of source code (a test directory counts only if it holds code).
pub(super) const CODE_EXTS: &[&str] = &[
    "rs", "go", "py", "rb", "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "java", "kt", "kts", "scala",
    "groovy", "clj", "cljs", "cs", "fs", "vb", "php", "c", "cc", "cpp", "cxx", "h", "hpp", "swift", "m", "mm", "dart",
    "ex", "exs", "erl", "hs", "ml", "lua", "pl", "pm", "r", "jl", "sh", "bash", "bats", "ps1", "elm", "vue", "svelte",
    "zig", "nim",
];

impl Scanner<'_> {
    /// **tests**: one row per directory holding tests.
    ///
    /// Code files anywhere under a directory named `test`, `tests`, `__tests__`, `spec` or `specs`
    /// count towards the outermost such directory (`src/test/` for Maven, `tests/` for Rust and
    /// Python). A `spec` directory counts only for files named like specs (`user_spec.rb`,
    /// `spec_helper.rb`, `a.spec.ts`): `spec/` also holds API specifications. Outside those
    /// directories, files named like tests (`*_test.go`, `*_test.py`, `test_*.py`, `*.spec.ts`,
    /// `*.test.js`, `*Test.java`, …) count towards their own directory. Test data, fixtures and
    /// examples are not tests of this repository.
    pub(super) fn tests(&mut self, f: &FileFacts) {
        let (path, name, lower, ext, dirs, lower_dirs) =
            (f.path, f.name, f.lower.as_str(), f.ext.as_str(), &f.dirs, &f.lower_dirs);
        let outside =
            ["testdata", "test-data", "test_data", "fixtures", "__fixtures__", "__mocks__", "examples", "example"];
        if lower_dirs.iter().any(|d| outside.contains(&d.as_str())) {
            return;
        }
        let key = ("tests", None);
        let noun = ("test file", "test files");
        if let Some(i) = lower_dirs.iter().position(|d| TEST_DIRS.contains(&d.as_str())) {
            let spec_dir = lower_dirs[i].starts_with("spec");
            if CODE_EXTS.contains(&ext) && (!spec_dir || lower.contains("spec")) {
                self.group(&dirs[..=i].join("/"), path, key, noun, None);
            }
        } else if is_test_file_name(name, lower, ext) {
            self.group(parent(path), path, key, noun, None);
        }
    }
}

pub(super) fn is_test_file_name(name: &str, lower: &str, ext: &str) -> bool {
    let suffixes = ["_test.go", "_test.py", "_test.rb", "_spec.rb", "_test.exs", "_test.dart", "_test.rs"];
    if suffixes.iter().any(|s| lower.ends_with(s)) || (lower.starts_with("test_") && ext == "py") {
        return true;
    }
    let js = ["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"];
    if js.contains(&ext) {
        let stem = &lower[..lower.len() - ext.len() - 1];
        return stem.ends_with(".spec") || stem.ends_with(".test") || stem.ends_with(".cy");
    }
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    ["java", "kt", "scala", "groovy", "cs"].contains(&ext)
        && (stem.ends_with("Test") || stem.ends_with("Tests") || stem.ends_with("Spec"))
}
