//! Conformance cases for both dialects: each forge's documented examples and the corner cases of
//! its parser, checked path by path.

use super::*;
use Dialect::{GitHub, GitLab};

/// What a conformance case expects for its path.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// These owners, in this order.
    Owners(&'static [&'static str]),
    /// A rule matched, but nobody owns the path.
    ExplicitlyUnowned,
    /// No rule matched.
    Unmatched,
}
use Expect::{ExplicitlyUnowned, Owners, Unmatched};

/// One conformance case: the documentation example it comes from, the dialect, the file, the
/// path and what the forge gives for it.
struct Case {
    doc: &'static str,
    dialect: Dialect,
    file: &'static str,
    path: &'static str,
    expect: Expect,
}

const fn case(doc: &'static str, dialect: Dialect, file: &'static str, path: &'static str, expect: Expect) -> Case {
    Case { doc, dialect, file, path, expect }
}

// GitLab "Sections" example: an unnamed section plus two README sections.
const GL_README_SECTIONS: &str = "* @admin\n\n[README Owners]\nREADME.md @user1 @user2\n\
                                      internal/README.md @user4\n\n[README other owners]\n\
                                      README.md @user3\n";
// GitLab "Set default Code Owner for a section" example.
const GL_DEFAULT_OWNERS: &str = "[Documentation] @docs-team\ndocs/\nREADME.md\n\n\
                                     [Database] @database-team @agarcia\nmodel/db/\n\
                                     config/db/database-setup.md @docs-team\n";
// GitLab "Regular entries and sections" example.
const GL_REGULAR_AND_SECTIONS: &str = "* @general-approvers\n\n[Documentation] @docs-team\n\
                                           docs/\nREADME.md\n*.txt\n\n[Database] @database-team\n\
                                           model/db/\nconfig/db/database-setup.md @docs-team\n";
// GitLab "Exclusion patterns" example.
const GL_EXCLUSIONS: &str = "* @username\n!pom.xml\n\n[Ruby]\n*.rb @ruby-team\n\
                                 !/config/**/*.rb\n";
// GitLab "Sections with duplicate names" example.
const GL_DUPLICATE_SECTIONS: &str = "[Documentation]\nee/docs/ @docs\ndocs/ @docs\n\n\
                                         [Database]\nREADME.md @database\nmodel/db/ @database\n\n\
                                         [DOCUMENTATION]\nREADME.md @docs\n";

const CASES: &[Case] = &[
    // ----- GitHub, "About code owners" → "Example of a CODEOWNERS file" -----
    case(
        "GH example: `*` sets the default owners",
        GitHub,
        "* @global-owner1 @global-owner2\n",
        "src/main.rs",
        Owners(&["@global-owner1", "@global-owner2"]),
    ),
    case(
        "GH example: last matching pattern wins (`*.js` after `*`)",
        GitHub,
        "* @global-owner1\n*.js @js-owner\n",
        "web/app.js",
        Owners(&["@js-owner"]),
    ),
    case(
        "GH example: earlier `*` still owns what `*.js` does not match",
        GitHub,
        "* @global-owner1\n*.js @js-owner\n",
        "README.md",
        Owners(&["@global-owner1"]),
    ),
    case(
        "GH example: `*.js @js-owner #This is an inline comment.`",
        GitHub,
        "*.js @js-owner #an inline comment @not-an-owner\n",
        "index.js",
        Owners(&["@js-owner"]),
    ),
    case(
        "GH example: e-mail owner for `*.go`",
        GitHub,
        "*.go docs@example.com\n",
        "cmd/tool/main.go",
        Owners(&["docs@example.com"]),
    ),
    case(
        "GH example: team owner `@octo-org/octocats` for `*.txt`",
        GitHub,
        "*.txt @octo-org/octocats\n",
        "notes/todo.txt",
        Owners(&["@octo-org/octocats"]),
    ),
    case(
        "GH example: `/build/logs/` owns files in build/logs",
        GitHub,
        "/build/logs/ @doctocat\n",
        "build/logs/today.log",
        Owners(&["@doctocat"]),
    ),
    case(
        "GH example: `/build/logs/` owns its subdirectories too",
        GitHub,
        "/build/logs/ @doctocat\n",
        "build/logs/2024/01/today.log",
        Owners(&["@doctocat"]),
    ),
    case(
        "GH example: `/build/logs/` is anchored to the root",
        GitHub,
        "/build/logs/ @doctocat\n",
        "tools/build/logs/today.log",
        Unmatched,
    ),
    case(
        "GH example: `docs/*` matches docs/getting-started.md",
        GitHub,
        "docs/* docs@example.com\n",
        "docs/getting-started.md",
        Owners(&["docs@example.com"]),
    ),
    case(
        "GH example: `docs/*` does not match docs/build-app/troubleshooting.md",
        GitHub,
        "docs/* docs@example.com\n",
        "docs/build-app/troubleshooting.md",
        Unmatched,
    ),
    case(
        "GH gitignore rule: `docs/*` has a middle slash, so it is anchored to the root",
        GitHub,
        "docs/* docs@example.com\n",
        "site/docs/getting-started.md",
        Unmatched,
    ),
    case(
        "GH example: `apps/` owns an apps directory anywhere",
        GitHub,
        "apps/ @octocat\n",
        "services/apps/api/main.py",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `apps/` owns the root apps directory as well",
        GitHub,
        "apps/ @octocat\n",
        "apps/web/index.html",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `/docs/` owns docs at the root and its subdirectories",
        GitHub,
        "/docs/ @doctocat\n",
        "docs/guides/setup.md",
        Owners(&["@doctocat"]),
    ),
    case(
        "GH example: `/docs/` does not match a nested docs directory",
        GitHub,
        "/docs/ @doctocat\n",
        "packages/docs/setup.md",
        Unmatched,
    ),
    case(
        "GH example: `/scripts/ @doctocat @octocat` needs either owner",
        GitHub,
        "/scripts/ @doctocat @octocat\n",
        "scripts/release.sh",
        Owners(&["@doctocat", "@octocat"]),
    ),
    case(
        "GH example: `**/logs` owns /build/logs",
        GitHub,
        "**/logs @octocat\n",
        "build/logs/out.txt",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `**/logs` owns /deeply/nested/logs",
        GitHub,
        "**/logs @octocat\n",
        "deeply/nested/logs/out.txt",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `**/logs` owns a logs directory at the root",
        GitHub,
        "**/logs @octocat\n",
        "logs/out.txt",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `/apps/github` without owners leaves it unowned",
        GitHub,
        "/apps/ @octocat\n/apps/github\n",
        "apps/github/main.go",
        ExplicitlyUnowned,
    ),
    case(
        "GH example: the rest of /apps stays with @octocat",
        GitHub,
        "/apps/ @octocat\n/apps/github\n",
        "apps/gitlab/main.go",
        Owners(&["@octocat"]),
    ),
    case(
        "GH example: `/apps/github @doctocat` overrides `/apps/ @octocat`",
        GitHub,
        "/apps/ @octocat\n/apps/github @doctocat\n",
        "apps/github/main.go",
        Owners(&["@doctocat"]),
    ),
    case("GH syntax: `*.js` matches at any depth", GitHub, "*.js @js-owner\n", "a/b/c/d.js", Owners(&["@js-owner"])),
    case(
        "GH syntax: paths are case sensitive (`/Docs/` vs docs/)",
        GitHub,
        "/Docs/ @doctocat\n",
        "docs/index.md",
        Unmatched,
    ),
    case("GH syntax: paths are case sensitive (`*.JS` vs .js)", GitHub, "*.JS @js-owner\n", "app.js", Unmatched),
    case(
        "GH syntax exception: `!` negation is an error, the line is skipped",
        GitHub,
        "* @global-owner1\n!*.md @docs-owner\n",
        "README.md",
        Owners(&["@global-owner1"]),
    ),
    case(
        "GH syntax exception: `[ ]` ranges are an error, the line is skipped",
        GitHub,
        "* @global-owner1\n*.[ch] @c-owner\n",
        "src/main.c",
        Owners(&["@global-owner1"]),
    ),
    case(
        "GH syntax exception: `\\#` escaping does not work, the line is skipped",
        GitHub,
        "* @global-owner1\n\\#file.rb @pound-owner\n",
        "#file.rb",
        Owners(&["@global-owner1"]),
    ),
    case(
        "GH syntax: a line with an invalid owner is skipped entirely",
        GitHub,
        "* @global-owner1\n*.rs @rust-owner not-an-owner\n",
        "src/lib.rs",
        Owners(&["@global-owner1"]),
    ),
    case(
        "GH syntax: invalid lines are skipped, later lines still apply",
        GitHub,
        "/docs/ @doctocat\n[Docs]\n*.md @md-owner\n",
        "docs/index.md",
        Owners(&["@md-owner"]),
    ),
    case(
        "GH gitignore rule: `*` also matches dotfiles",
        GitHub,
        "* @global-owner1\n",
        ".github/workflows/ci.yml",
        Owners(&["@global-owner1"]),
    ),
    // ----- GitLab, "Syntax of CODEOWNERS file" and "Advanced CODEOWNERS configuration" -----
    case(
        "GL syntax example: `* @default-owner`",
        GitLab,
        "* @default-owner\n",
        "lib/a/b.rb",
        Owners(&["@default-owner"]),
    ),
    case(
        "GL syntax example: `README.md @doc-team @tech-lead`",
        GitLab,
        "README.md @doc-team @tech-lead\n",
        "README.md",
        Owners(&["@doc-team", "@tech-lead"]),
    ),
    case(
        "GL relative paths: `README.md` matches /app/lib/README.md",
        GitLab,
        "README.md @username\n",
        "app/lib/README.md",
        Owners(&["@username"]),
    ),
    case(
        "GL relative paths: `internal/README.md` matches /docs/api/internal/README.md",
        GitLab,
        "internal/README.md @username\n",
        "docs/api/internal/README.md",
        Owners(&["@username"]),
    ),
    case(
        "GL absolute paths: `/README.md` matches only the root README.md",
        GitLab,
        "/README.md @username\n",
        "docs/README.md",
        Unmatched,
    ),
    case(
        "GL syntax example: `LICENSE @legal janedoe@gitlab.com`",
        GitLab,
        "LICENSE @legal janedoe@gitlab.com\n",
        "LICENSE",
        Owners(&["@legal", "janedoe@gitlab.com"]),
    ),
    case(
        "GL syntax example: groups and nested groups",
        GitLab,
        "README @group @group/with-nested/subgroup\n",
        "README",
        Owners(&["@group", "@group/with-nested/subgroup"]),
    ),
    case(
        "GL directory paths: `/docs/` matches docs and its subdirectories",
        GitLab,
        "/docs/ @all-docs\n",
        "docs/api/graphql/index.md",
        Owners(&["@all-docs"]),
    ),
    case(
        "GL old example file: `/docs/*` matches docs/index.md",
        GitLab,
        "/docs/* @root-docs\n",
        "docs/index.md",
        Owners(&["@root-docs"]),
    ),
    case(
        "GL old example file: `/docs/*` does not match docs/projects/index.md",
        GitLab,
        "/docs/* @root-docs\n",
        "docs/projects/index.md",
        Unmatched,
    ),
    case(
        "GL relative paths: unanchored `docs/*` matches a docs directory at any depth",
        GitLab,
        "docs/* @root-docs\n",
        "site/docs/index.md",
        Owners(&["@root-docs"]),
    ),
    case(
        "GL relative paths: unanchored `docs/*` still does not match nested files",
        GitLab,
        "docs/* @root-docs\n",
        "site/docs/projects/index.md",
        Unmatched,
    ),
    case(
        "GL globstar paths: `/docs/**/index.md` matches /docs/api/graphql/index.md",
        GitLab,
        "/docs/**/index.md @index-docs\n",
        "docs/api/graphql/index.md",
        Owners(&["@index-docs"]),
    ),
    case(
        "GL globstar paths: `/docs/**/index.md` matches /docs/index.md",
        GitLab,
        "/docs/**/index.md @index-docs\n",
        "docs/index.md",
        Owners(&["@index-docs"]),
    ),
    case(
        "GL pattern matching: `**/*.rb` matches app/controllers/users/stars_controller.rb",
        GitLab,
        "**/*.rb @ruby\n",
        "app/controllers/users/stars_controller.rb",
        Owners(&["@ruby"]),
    ),
    case(
        "GL wildcard paths: `/docs/*.md` does not match docs/api/index.md",
        GitLab,
        "/docs/*.md @username\n",
        "docs/api/index.md",
        Unmatched,
    ),
    case(
        "GL wildcard paths: `/docs/*/README.md` matches /docs/api/README.md",
        GitLab,
        "/docs/*/README.md @username\n",
        "docs/api/README.md",
        Owners(&["@username"]),
    ),
    case(
        "GL wildcard paths: `/docs/*spec*` matches /docs/qa_specs.rb",
        GitLab,
        "/docs/*spec* @username\n",
        "docs/qa_specs.rb",
        Owners(&["@username"]),
    ),
    case(
        "GL old example file: `lib/` matches a lib directory nested anywhere",
        GitLab,
        "lib/ @lib-owner\n",
        "gems/tool/lib/tool.rb",
        Owners(&["@lib-owner"]),
    ),
    case(
        "GL old example file: `/config/` matches only the root config directory",
        GitLab,
        "/config/ @config-owner\n",
        "ee/config/settings.yml",
        Unmatched,
    ),
    case(
        "GL entries with spaces: `path\\ with\\ spaces/`",
        GitLab,
        "path\\ with\\ spaces/ @space-owner\n",
        "path with spaces/notes.md",
        Owners(&["@space-owner"]),
    ),
    case(
        "GL old example file: `\\#file_with_pound.rb`",
        GitLab,
        "\\#file_with_pound.rb @owner-file-with-pound\n",
        "#file_with_pound.rb",
        Owners(&["@owner-file-with-pound"]),
    ),
    case(
        "GL pattern matching: FNM_DOTMATCH lets `*` match dotfiles",
        GitLab,
        "* @default-owner\n",
        ".gitignore",
        Owners(&["@default-owner"]),
    ),
    case("GL pattern matching: fnmatch is case sensitive", GitLab, "*.MD @docs\n", "README.md", Unmatched),
    case(
        "GL pattern matching: fnmatch `[ ]` classes work in GitLab",
        GitLab,
        "*.[ch] @c-owner\n",
        "src/main.h",
        Owners(&["@c-owner"]),
    ),
    case(
        "GL pattern matching: `docs` without `/` is a file pattern under fnmatch",
        GitLab,
        "docs @docs\n",
        "docs/index.md",
        Unmatched,
    ),
    case(
        "GL define specific owners: `terms.md @legal-team` after `*.md @doc-team`",
        GitLab,
        "*.md @doc-team\nterms.md @legal-team\n",
        "terms.md",
        Owners(&["@legal-team"]),
    ),
    case(
        "GL sections example: root README.md has owners from all three sections",
        GitLab,
        GL_README_SECTIONS,
        "README.md",
        Owners(&["@admin", "@user1", "@user2", "@user3"]),
    ),
    case(
        "GL sections example: internal/README.md takes the last entry of [README Owners]",
        GitLab,
        GL_README_SECTIONS,
        "internal/README.md",
        Owners(&["@admin", "@user4", "@user3"]),
    ),
    case(
        "GL section default owners: docs/ inherits @docs-team",
        GitLab,
        GL_DEFAULT_OWNERS,
        "docs/install.md",
        Owners(&["@docs-team"]),
    ),
    case(
        "GL section default owners: model/db/ inherits both [Database] defaults",
        GitLab,
        GL_DEFAULT_OWNERS,
        "model/db/schema.rb",
        Owners(&["@database-team", "@agarcia"]),
    ),
    case(
        "GL section default owners: a line's own owners override the defaults",
        GitLab,
        GL_DEFAULT_OWNERS,
        "config/db/database-setup.md",
        Owners(&["@docs-team"]),
    ),
    case(
        "GL regular entries and sections: model/db/CHANGELOG.txt needs three groups",
        GitLab,
        GL_REGULAR_AND_SECTIONS,
        "model/db/CHANGELOG.txt",
        Owners(&["@general-approvers", "@docs-team", "@database-team"]),
    ),
    case(
        "GL optional sections: `^[Go]` entries still name owners",
        GitLab,
        "[Documentation]\n*.md @root\n\n[Ruby]\n*.rb @root\n\n^[Go]\n*.go @gopher\n",
        "cmd/main.go",
        Owners(&["@gopher"]),
    ),
    case(
        "GL multiple approvals: `[Documentation][2]` entries name owners as usual",
        GitLab,
        "[Documentation][2]\n*.md @tech-writer-team\n\n[Ruby]\n*.rb @dev-team\n",
        "docs/guide.md",
        Owners(&["@tech-writer-team"]),
    ),
    case(
        "GL duplicate sections: [Documentation] and [DOCUMENTATION] are combined",
        GitLab,
        GL_DUPLICATE_SECTIONS,
        "README.md",
        Owners(&["@docs", "@database"]),
    ),
    case(
        "GL duplicate sections: merged, so the later block's entry wins in the section",
        GitLab,
        "[Docs]\n*.md @writers\n\n[Ruby]\n*.rb @rubyists\n\n[DOCS]\nREADME.md @readme-owner\n",
        "README.md",
        Owners(&["@readme-owner"]),
    ),
    case("GL exclusion patterns: `!pom.xml` needs no approval", GitLab, GL_EXCLUSIONS, "pom.xml", ExplicitlyUnowned),
    case(
        "GL exclusion patterns: Ruby files outside config need both sections",
        GitLab,
        GL_EXCLUSIONS,
        "app/models/user.rb",
        Owners(&["@username", "@ruby-team"]),
    ),
    case(
        "GL exclusion patterns: `!/config/**/*.rb` only affects the Ruby section",
        GitLab,
        GL_EXCLUSIONS,
        "config/initializers/session.rb",
        Owners(&["@username"]),
    ),
    case(
        "GL exclusions are evaluated in order: a later `/special/*.rb` does not take effect",
        GitLab,
        "* @default-owner\n!*.rb\n/special/*.rb @ruby-owner\n",
        "special/tool.rb",
        ExplicitlyUnowned,
    ),
    case(
        "GL exclusions: an excluded file cannot be included again in the same section",
        GitLab,
        "[Ruby]\n*.rb @ruby-team\n!/config/**/*.rb\n/config/routes.rb @ops\n",
        "config/routes.rb",
        ExplicitlyUnowned,
    ),
    case(
        "GL exclusions: other sections still apply to an excluded file",
        GitLab,
        "[Ruby]\n*.rb @ruby-team\n!/config/**/*.rb\n\n[Config]\n/config/ @ops-team\n",
        "config/app.rb",
        Owners(&["@ops-team"]),
    ),
    case(
        "GL exclusions: `!**/generated/` excludes generated directories",
        GitLab,
        "* @default-owner\n!package-lock.json\n!**/generated/\n",
        "src/generated/client.ts",
        ExplicitlyUnowned,
    ),
    case(
        "GL malformed owners: owned by @group and @user_with_at_symbol",
        GitLab,
        "/path/* @group user_without_at_symbol @user_with_at_symbol\n",
        "path/file.txt",
        Owners(&["@group", "@user_with_at_symbol"]),
    ),
    case(
        "GL zero owners: an entry without owners leaves the path unowned",
        GitLab,
        "* @default-owner\n/docs/\n",
        "docs/index.md",
        ExplicitlyUnowned,
    ),
    case(
        "GL unparsable sections: `[Section name` is reported, `docs/` still applies",
        GitLab,
        "* @group\n\n[Section name\ndocs/ @docs_group\n",
        "docs/index.md",
        Owners(&["@docs_group"]),
    ),
    case(
        "GL role owner: `/config/ @@maintainer`",
        GitLab,
        "/config/ @@maintainer\n",
        "config/app.yml",
        Owners(&["@@maintainer"]),
    ),
    case(
        "GL duplicated entry: the last one is used (owners of the repeat)",
        GitLab,
        "docs/ @first\ndocs/README.md @readme\ndocs/ @second\n",
        "docs/install.md",
        Owners(&["@second"]),
    ),
    case(
        "GL duplicated entry: a repeat keeps the first position, so a later entry still wins",
        GitLab,
        "docs/ @first\ndocs/README.md @readme\ndocs/ @second\n",
        "docs/README.md",
        Owners(&["@readme"]),
    ),
];

#[test]
fn conformance_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let parsed = parse(case.file, case.dialect);
        let got = parsed.owners_of(case.path);
        let ok = match case.expect {
            Owners(owners) => got.owners == owners && !got.explicitly_unowned && !got.rules.is_empty(),
            ExplicitlyUnowned => got.owners.is_empty() && got.explicitly_unowned && !got.rules.is_empty(),
            Unmatched => got.rules.is_empty() && got.owners.is_empty(),
        };
        if !ok {
            failures.push(format!(
                "{:?} {}: {} → expected {:?}, got {:?}",
                case.dialect, case.doc, case.path, case.expect, got
            ));
        }
    }
    assert!(CASES.len() >= 40, "the table must hold at least 40 cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn error_lines(parsed: &CodeOwners) -> Vec<usize> {
    parsed.errors.iter().map(|e| e.line).collect()
}

#[test]
fn candidate_orders_follow_the_docs() {
    assert_eq!(candidates(GitHub), [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]);
    assert_eq!(candidates(GitLab), ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"]);
}

#[test]
fn locate_takes_the_first_existing_candidate() {
    let root = std::env::temp_dir().join(format!(
        "flowgauge-codeowners-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
    ));
    for dir in ["", ".github", "docs", ".gitlab"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    assert_eq!(locate(&root, GitHub), None);
    assert_eq!(locate(&root, GitLab), None);

    for file in [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"] {
        std::fs::write(root.join(file), "* @someone\n").unwrap();
    }
    assert_eq!(locate(&root, GitHub), Some(root.join(".github/CODEOWNERS")));
    assert_eq!(locate(&root, GitLab), Some(root.join("CODEOWNERS")));

    std::fs::remove_file(root.join(".github/CODEOWNERS")).unwrap();
    std::fs::remove_file(root.join("CODEOWNERS")).unwrap();
    assert_eq!(locate(&root, GitHub), Some(root.join("docs/CODEOWNERS")));
    assert_eq!(locate(&root, GitLab), Some(root.join("docs/CODEOWNERS")));

    std::fs::remove_file(root.join("docs/CODEOWNERS")).unwrap();
    assert_eq!(locate(&root, GitHub), None, "GitHub never reads .gitlab/");
    assert_eq!(locate(&root, GitLab), Some(root.join(".gitlab/CODEOWNERS")));

    // A directory named CODEOWNERS is not a CODEOWNERS file.
    std::fs::create_dir_all(root.join("CODEOWNERS")).unwrap();
    assert_eq!(locate(&root, GitLab), Some(root.join(".gitlab/CODEOWNERS")));

    let (path, loaded) = load(&root, GitLab).unwrap().unwrap();
    assert_eq!(path, root.join(".gitlab/CODEOWNERS"));
    assert_eq!(loaded.owners_of("x").owners, ["@someone"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn github_reports_bad_lines_with_their_numbers_and_keeps_the_rest() {
    let text = "# comment\n\
                    * @global\n\
                    !*.md @docs\n\
                    *.[ch] @c\n\
                    \\#notes @pound\n\
                    *.rs @rust not-an-owner\n\
                    [Section]\n\
                    /apps/ @octocat\n\
                    /apps/github\n";
    let parsed = parse(text, GitHub);
    assert_eq!(error_lines(&parsed), [3, 4, 5, 6, 7]);
    assert!(parsed.errors[0].message.contains('!'));
    assert!(parsed.errors[1].message.contains("[ ]"));
    assert!(parsed.errors[3].message.contains("`not-an-owner`"));
    assert_eq!(parsed.errors[3].text, "*.rs @rust not-an-owner");
    assert_eq!(parsed.rules.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 8, 9]);
    assert_eq!(parsed.owners_of("lib.rs").owners, ["@global"]);
    assert_eq!(parsed.owners_of("apps/web/x").rules, [8]);
    let unowned = parsed.owners_of("apps/github/x");
    assert!(unowned.explicitly_unowned);
    assert_eq!(unowned.rules, [9]);
}

#[test]
fn github_accepts_valid_owner_forms_and_inline_comments() {
    let parsed = parse("*.md @user @org/team-name user@example.com # @ignored\n/a/ # no owners\n", GitHub);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.rules[0].owners, ["@user", "@org/team-name", "user@example.com"]);
    assert!(parsed.rules[1].owners.is_empty());
    assert!(parsed.owners_of("a/b.md").explicitly_unowned);
}

#[test]
fn gitlab_reports_bad_lines_with_their_numbers_and_keeps_the_rest() {
    let text = "* @group\n\
                    \n\
                    [Section name\n\
                    LICENSE @legal this_does_not_match janedoe@gitlab.com\n\
                    /docs/\n\
                    []\n\
                    ^[Optional][2] @team\n\
                    [Bad][x]\n\
                    [Owners] not-an-owner\n\
                    *.rb @ruby\n";
    let parsed = parse(text, GitLab);
    assert_eq!(error_lines(&parsed), [3, 4, 5, 6, 7, 8, 9]);
    let messages: Vec<&str> = parsed.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages[0].contains("unparsable"));
    assert!(messages[1].contains("`this_does_not_match`"));
    assert!(messages[2].contains("without owners"));
    assert!(messages[3].contains("without a name"));
    assert!(messages[4].contains("optional"));
    assert!(messages[5].contains("unexpected text"));
    assert!(messages[6].contains("`not-an-owner`"));
    assert_eq!(parsed.errors[1].text, "LICENSE @legal this_does_not_match janedoe@gitlab.com");

    // The broken lines do not stop the others from applying.
    let license = parsed.owners_of("LICENSE");
    assert_eq!(license.owners, ["@legal", "janedoe@gitlab.com"]);
    assert_eq!(license.rules, [4]);
    assert_eq!(parsed.owners_of("lib/a.rb").owners, ["@group", "@ruby"]);
    assert!(parsed.owners_of("docs/a.md").explicitly_unowned);
    assert_eq!(parsed.section("owners").unwrap().default_owners, Vec::<String>::new());
}

#[test]
fn gitlab_sections_record_optionality_and_approvals() {
    let text = "[Documentation][2] @docs-team\ndocs/\n\n^[Go]\n*.go @gopher\n\n\
                    [Ruby]\n*.rb @rubyist\n\n^[RUBY]\nGemfile @rubyist\n\n[Zero][0]\n*.x @z\n";
    let parsed = parse(text, GitLab);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let names: Vec<&str> = parsed.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Documentation", "Go", "Ruby", "Zero"]);

    let docs = parsed.section("documentation").unwrap();
    assert_eq!(docs.approvals_required, 2);
    assert_eq!(docs.default_owners, ["@docs-team"]);
    assert!(!docs.optional);
    assert!(parsed.section("go").unwrap().optional);
    // Merged with an optional duplicate, a section with a required entry stays required.
    let ruby = parsed.section("Ruby").unwrap();
    assert!(!ruby.optional);
    assert_eq!(ruby.lines, [7, 10]);
    // `[0]` is treated as one approval.
    assert_eq!(parsed.section("zero").unwrap().approvals_required, 1);

    let go = parsed.owners_of("main.go");
    assert_eq!(go.sections.len(), 1);
    assert_eq!(go.sections[0].section.as_deref(), Some("Go"));
    assert!(go.sections[0].optional);
    let md = parsed.owners_of("docs/a.md");
    assert_eq!(md.sections[0].approvals_required, 2);
    assert_eq!(md.owners, ["@docs-team"]);
    let gemfile = parsed.owners_of("Gemfile");
    assert_eq!(gemfile.sections[0].section.as_deref(), Some("Ruby"));
    assert!(parsed.rules.iter().any(|r| r.pattern == "Gemfile" && r.optional));
}

#[test]
fn gitlab_exclusions_are_flagged_and_reported_per_section() {
    let parsed = parse(GL_EXCLUSIONS, GitLab);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let exclusions: Vec<(&str, Option<&str>)> =
        parsed.rules.iter().filter(|r| r.exclusion).map(|r| (r.pattern.as_str(), r.section.as_deref())).collect();
    assert_eq!(exclusions, [("pom.xml", None), ("/config/**/*.rb", Some("Ruby"))]);

    let config = parsed.owners_of("config/app.rb");
    assert_eq!(config.rules, [1, 6]);
    assert!(!config.sections[0].excluded);
    assert!(config.sections[1].excluded);
    assert_eq!(config.owners, ["@username"]);
}

#[test]
fn gitlab_inline_comments_are_parsed_as_owners() {
    // GitLab: "Inline comments are unsupported. Any Code Owners listed in a comment are parsed."
    let parsed = parse("/docs/**/*.md @markdown-docs  # ask @reviewer too\n", GitLab);
    assert_eq!(parsed.rules[0].owners, ["@markdown-docs", "@reviewer"]);
    assert_eq!(error_lines(&parsed), [1]);
    assert!(parsed.errors[0].message.contains("`#`, `ask`"));
}

#[test]
fn github_dialect_rejects_gitlab_sections() {
    let parsed = parse("[Docs] @writers\ndocs/ @writers\n^[Go]\n", GitHub);
    assert_eq!(error_lines(&parsed), [1, 3]);
    assert_eq!(parsed.owners_of("docs/a.md").owners, ["@writers"]);
    assert!(parsed.sections.is_empty());
}

#[test]
fn paths_with_a_leading_slash_are_accepted() {
    let parsed = parse("/docs/ @d\n", GitHub);
    assert_eq!(parsed.owners_of("/docs/a.md").owners, ["@d"]);
    assert!(parsed.rules[0].matches("/docs/a.md"));
    let parsed = parse("/docs/ @d\n", GitLab);
    assert_eq!(parsed.owners_of("/docs/a.md").owners, ["@d"]);
}

#[test]
fn unmatched_paths_have_no_decision() {
    let parsed = parse("*.md @d\n", GitLab);
    let got = parsed.owners_of("main.rs");
    assert!(got.is_unmatched());
    assert!(!got.explicitly_unowned);
    assert_eq!(got, Ownership::default());
}

#[test]
fn fnmatch_brackets_follow_ruby() {
    let toks = fnmatch_glob("[!a-c]x");
    assert!(glob_match(&toks, &['d', 'x']));
    assert!(!glob_match(&toks, &['b', 'x']));
    assert_eq!(fnmatch_glob("a[bc"), [Tok::Lit('a'), Tok::Never]);
    assert!(!glob_match(&fnmatch_glob("[]"), &['a']));
    assert!(glob_match(&fnmatch_glob("\\*"), &['*']));
}
