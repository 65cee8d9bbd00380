//! The scan's rules on small trees written by each test.

use super::jenkins::*;
use super::*;
use crate::model::EVIDENCE;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn config(text: &str) -> Config {
    Config::from_toml(text, chrono::Utc::now()).unwrap()
}

fn run(root: &Path) -> Scan {
    scan(root, "acme/shop", &config("")).unwrap()
}

fn col<'r>(row: &'r Row, name: &str) -> Option<&'r str> {
    match &row[EVIDENCE.position(name).unwrap()] {
        Value::Text(s) => Some(s.as_str()),
        _ => None,
    }
}

fn line(row: &Row) -> Option<i64> {
    match row[EVIDENCE.position("line").unwrap()] {
        Value::Int(i) => Some(i),
        _ => None,
    }
}

fn rows<'s>(scan: &'s Scan, category: &str) -> Vec<&'s Row> {
    scan.rows.iter().filter(|r| col(r, "category") == Some(category)).collect()
}

fn at<'s>(scan: &'s Scan, category: &str, path: &str) -> Vec<&'s Row> {
    rows(scan, category).into_iter().filter(|r| col(r, "path") == Some(path)).collect()
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> i64 {
    text.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1
}

const DEPLOY_WORKFLOW: &str = r#"name: Deploy
on:
  workflow_dispatch:
    inputs:
      version:
        description: Version to deploy
        required: true

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo build --release
  deploy:
    name: Deploy to production
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://shop.example.com
    steps:
      - uses: actions/checkout@v4
      - run: ./scripts/ship.sh ${{ inputs.version }}
"#;

#[test]
fn github_manual_dispatch_with_production_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
    let scan = run(dir.path());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

    let manual = rows(&scan, "manual trigger");
    assert_eq!(manual.len(), 1, "the build job is not deploy-like: {manual:?}");
    let row = manual[0];
    assert_eq!(col(row, "kind"), Some("manual_step"));
    assert_eq!(col(row, "tool"), Some("github-actions"));
    assert_eq!(col(row, "path"), Some(".github/workflows/deploy.yml"));
    assert_eq!(line(row), Some(line_of(DEPLOY_WORKFLOW, "  deploy:")));
    let detail = col(row, "detail").unwrap();
    assert!(detail.contains("\"Deploy\"") && detail.contains("job \"deploy\""), "{detail}");

    let env = rows(&scan, "deployment environment");
    assert_eq!(env.len(), 1);
    assert_eq!(col(env[0], "kind"), Some("practice"), "an environment alone is not a manual step");
    assert_eq!(line(env[0]), Some(line_of(DEPLOY_WORKFLOW, "environment:")));
    let detail = col(env[0], "detail").unwrap();
    assert!(detail.contains("job \"deploy\"") && detail.contains("environment \"production\""), "{detail}");
    assert!(detail.contains("required reviewers configured on the forge make it a manual approval"));

    let ci = at(&scan, "ci pipeline", ".github/workflows/deploy.yml");
    assert_eq!(ci.len(), 1);
    assert_eq!(col(ci[0], "kind"), Some("practice"));
    assert_eq!(line(ci[0]), None);
}

#[test]
fn github_on_as_string_and_list() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".github/workflows/release.yaml",
        "name: Release\non: workflow_dispatch\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo publish\n",
    );
    write(
        dir.path(),
        ".github/workflows/ship.yml",
        "on: [workflow_dispatch]\njobs:\n  ship:\n    runs-on: ubuntu-latest\n    steps:\n      - name: Roll out\n        run: kubectl rollout restart statefulset/shop\n",
    );
    let scan = run(dir.path());
    let manual = rows(&scan, "manual trigger");
    assert_eq!(manual.len(), 2, "{manual:?}");
    assert_eq!(col(manual[0], "path"), Some(".github/workflows/release.yaml"));
    assert_eq!(line(manual[0]), Some(4));
    assert_eq!(col(manual[1], "path"), Some(".github/workflows/ship.yml"));
    assert_eq!(line(manual[1]), Some(3));
    assert!(col(manual[1], "detail").unwrap().contains("rollout"));
}

#[test]
fn github_automatic_workflows_are_not_manual() {
    let dir = tempfile::tempdir().unwrap();
    // Only push: deploys without a person.
    write(
        dir.path(),
        ".github/workflows/ci.yml",
        "name: CI\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n",
    );
    // Push and dispatch: the dispatch is an escape hatch, not a manual step.
    write(
        dir.path(),
        ".github/workflows/cd.yml",
        "on:\n  push:\n    branches: [main]\n  workflow_dispatch:\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n",
    );
    // Manual, but nothing deploy-like: a maintenance task.
    write(
        dir.path(),
        ".github/workflows/lint.yml",
        "on: workflow_dispatch\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo clippy --release\n",
    );
    let scan = run(dir.path());
    assert!(rows(&scan, "manual trigger").is_empty(), "{:?}", rows(&scan, "manual trigger"));
    assert_eq!(rows(&scan, "ci pipeline").len(), 3);
    let ci = at(&scan, "ci pipeline", ".github/workflows/ci.yml");
    assert_eq!(col(ci[0], "detail"), Some("workflow \"CI\" on push, pull_request"));
}

#[test]
fn github_flow_collection_closed_at_key_indentation_parses() {
    let dir = tempfile::tempdir().unwrap();
    let text = "on: workflow_dispatch\njobs:\n  release:\n    strategy:\n      matrix:\n        target: [\n          { \"os\": \"ubuntu-latest\" },\n          { \"os\": \"macos-latest\" },\n        ]\n    runs-on: ${{ matrix.target.os }}\n    steps:\n      - run: cargo publish\n";
    write(dir.path(), ".github/workflows/tag.yml", text);
    let scan = run(dir.path());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let manual = rows(&scan, "manual trigger");
    assert_eq!(manual.len(), 1);
    assert_eq!(line(manual[0]), Some(3));
}

#[test]
fn github_staging_environment_is_not_production() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".github/workflows/deploy.yml",
        "on: push\njobs:\n  staging:\n    environment: staging\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  pre:\n    environment: pre-prod\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  prod:\n    environment: production-eu\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  dynamic:\n    environment: ${{ inputs.env }}\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n",
    );
    let scan = run(dir.path());
    let env = rows(&scan, "deployment environment");
    assert_eq!(env.len(), 1, "{env:?}");
    assert!(col(env[0], "detail").unwrap().contains("production-eu"));
    assert_eq!(line(env[0]), Some(12));
}

const GITLAB_CI: &str = r#"stages: [build, test, deploy]

variables:
  APP: shop

.deploy_template: &deploy
  stage: deploy
  image: alpine
  when: manual

build:
  stage: build
  script: make build

deploy-staging:
  stage: deploy
  script: ./deploy.sh staging
  environment:
    name: staging
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
    - when: never

"deploy:production":
  stage: deploy
  script: ./deploy.sh production
  environment: production
  when: manual

deploy-eu:
  extends: .deploy_template
  script: ./deploy.sh eu

deploy-us:
  <<: *deploy
  script: ./deploy.sh us

stop-review:
  stage: deploy
  script: ./teardown.sh
  when: manual
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop
"#;

#[test]
fn gitlab_manual_jobs_and_production_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".gitlab-ci.yml", GITLAB_CI);
    let scan = run(dir.path());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

    let manual = rows(&scan, "manual job");
    let details: Vec<&str> = manual.iter().map(|r| col(r, "detail").unwrap()).collect();
    assert_eq!(manual.len(), 4, "{details:?}");
    assert!(manual.iter().all(|r| col(r, "tool") == Some("gitlab-ci") && col(r, "kind") == Some("manual_step")));

    // Sorted by line: deploy-staging (rules), deploy:production, deploy-eu, deploy-us.
    assert!(details[0].contains("deploy-staging") && details[0].contains("in rules"), "{}", details[0]);
    assert!(details[0].contains("environment staging"));
    assert_eq!(line(manual[0]), Some(line_of(GITLAB_CI, "      when: manual")));

    assert!(details[1].contains("deploy:production") && details[1].contains("stage deploy"));
    let prod_start = line_of(GITLAB_CI, "\"deploy:production\":");
    assert_eq!(line(manual[1]), Some(prod_start + 4));

    assert!(details[2].contains("deploy-eu") && details[2].contains("inherited from a template"), "{}", details[2]);
    assert_eq!(line(manual[2]), Some(line_of(GITLAB_CI, "deploy-eu:")));
    assert!(details[3].contains("deploy-us") && details[3].contains("inherited from a template"), "{}", details[3]);

    let env = rows(&scan, "deployment environment");
    assert_eq!(env.len(), 1);
    assert_eq!(line(env[0]), Some(prod_start + 3));
    assert!(col(env[0], "detail").unwrap().contains("\"production\""));

    let ci = at(&scan, "ci pipeline", ".gitlab-ci.yml");
    assert_eq!(col(ci[0], "detail"), Some("6 jobs; stages: build, deploy"));
}

#[test]
fn gitlab_local_includes_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".gitlab-ci.yml",
        "include:\n  - local: /ci/deploy.yml\n  - remote: https://example.com/x.yml\nbuild:\n  script: make\n",
    );
    // GitLab's `!reference` tag must not break parsing.
    write(
        dir.path(),
        "ci/deploy.yml",
        "release:\n  stage: deploy\n  script: ./release.sh\n  when: manual\n  before_script: !reference [.setup, script]\n",
    );
    let scan = run(dir.path());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let manual = rows(&scan, "manual job");
    assert_eq!(manual.len(), 1);
    assert_eq!(col(manual[0], "path"), Some("ci/deploy.yml"));
    assert_eq!(line(manual[0]), Some(4));
    assert_eq!(rows(&scan, "ci pipeline").len(), 2);
}

const JENKINSFILE: &str = r#"pipeline {
    agent any
    stages {
        stage('Build') {
            steps {
                sh 'make build'
                // input message: 'commented out'
                sh 'echo "input message: not a step"'
            }
        }
        stage('Deploy') {
            steps {
                script {
                    def target = 'production'
                }
                input message: 'Deploy?', ok: 'Ship it'
                sh './deploy.sh'
            }
        }
        stage('Promote') {
            input {
                message "Promote to live?"
                submitter "release-managers"
            }
            steps {
                sh './promote.sh'
            }
        }
    }
}
"#;

#[test]
fn jenkins_input_steps() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Jenkinsfile", JENKINSFILE);
    write(
        dir.path(),
        "ci/release.jenkinsfile",
        "node {\n  stage('Release') {\n    def ok = input(id: 'go', message: 'Release?')\n  }\n}\n",
    );
    let scan = run(dir.path());
    let approvals = rows(&scan, "approval");
    assert_eq!(approvals.len(), 3, "{approvals:?}");
    let main: Vec<&&Row> = approvals.iter().filter(|r| col(r, "path") == Some("Jenkinsfile")).collect();
    assert_eq!(line(main[0]), Some(line_of(JENKINSFILE, "input message: 'Deploy?'")));
    assert_eq!(line(main[0]), Some(16));
    assert_eq!(
        col(main[0], "detail"),
        Some("`input` step \"Deploy?\" in stage \"Deploy\" waits for a person to approve")
    );
    assert_eq!(line(main[1]), Some(line_of(JENKINSFILE, "input {")));
    assert!(col(main[1], "detail").unwrap().contains("\"Promote to live?\" in stage \"Promote\""));
    let other = at(&scan, "approval", "ci/release.jenkinsfile");
    assert_eq!(line(other[0]), Some(3));
    assert!(col(other[0], "detail").unwrap().contains("\"Release?\" in stage \"Release\""));
    assert_eq!(at(&scan, "ci pipeline", "Jenkinsfile").len(), 1);
}

const CIRCLECI_CONFIG: &str = r#"version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps: [checkout]
  deploy:
    docker: [{image: cimg/base:stable}]
    steps: [checkout]
workflows:
  version: 2
  build-and-deploy:
    jobs:
      - build
      - hold:
          type: approval
          requires:
            - build
      - deploy:
          requires:
            - hold
"#;

#[test]
fn circleci_approval() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".circleci/config.yml", CIRCLECI_CONFIG);
    let scan = run(dir.path());
    let approvals = rows(&scan, "approval");
    assert_eq!(approvals.len(), 1);
    assert_eq!(col(approvals[0], "tool"), Some("circleci"));
    assert_eq!(line(approvals[0]), Some(line_of(CIRCLECI_CONFIG, "type: approval")));
    assert_eq!(
        col(approvals[0], "detail"),
        Some(
            "workflow \"build-and-deploy\": job \"hold\" waits for a person to approve (type: approval) before deploy"
        )
    );
    assert_eq!(col(at(&scan, "ci pipeline", ".circleci/config.yml")[0], "detail"), Some("1 workflow"));
}

fn practices(scan: &Scan) -> Vec<(String, String, Option<String>)> {
    scan.rows
        .iter()
        .filter(|r| col(r, "kind") == Some("practice"))
        .map(|r| {
            (
                col(r, "category").unwrap().to_string(),
                col(r, "path").unwrap().to_string(),
                col(r, "tool").map(str::to_string),
            )
        })
        .collect()
}

fn has(scan: &Scan, category: &str, path: &str, tool: Option<&str>) -> bool {
    practices(scan).iter().any(|(c, p, t)| c == category && p == path && t.as_deref() == tool)
}

#[test]
fn practices_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "infra/main.tf", "resource \"aws_s3_bucket\" \"b\" {}\n");
    write(root, "infra/variables.tf", "variable \"region\" {}\n");
    write(root, "charts/shop/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\n");
    write(
        root,
        "charts/shop/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    write(
        root,
        "k8s/app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 2\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n",
    );
    write(root, "k8s/kustomization.yaml", "resources:\n  - app.yaml\n");
    write(root, "ansible/playbook-deploy.yml", "- hosts: web\n  roles: [shop]\n");
    write(root, "ansible/roles/shop/tasks/main.yml", "- name: install\n  apt: name=nginx\n");
    write(
        root,
        "monitoring/alerts.yml",
        "groups:\n  - name: shop\n    rules:\n      - alert: HighErrorRate\n        expr: rate(errors[5m]) > 1\n      - record: x\n        expr: y\n",
    );
    write(root, "docs/runbooks/payments.md", "# Payments down\n");
    write(root, "docs/runbooks/db.md", "# Database\n");
    write(root, "RUNBOOK.md", "# Runbook\n");
    write(root, "docs/postmortems/2024-03-01-outage.md", "# Outage\n");
    write(root, "docs/postmortem-template.md", "# Template\n");
    write(root, "scripts/rollback.sh", "#!/bin/sh\nkubectl rollout undo deploy/shop\n");
    write(root, "Makefile", ".PHONY: deploy rollback\ndeploy:\n\t./deploy.sh\nrollback: deploy\n\t./rollback.sh\n");
    write(root, "Dockerfile", "FROM alpine\n");
    write(root, "docker-compose.yml", "services:\n  app:\n    build: .\n");
    write(root, "tests/api.rs", "#[test] fn t() {}\n");
    write(root, "tests/support/mod.rs", "pub fn f() {}\n");
    write(root, "web/src/cart.test.ts", "test('x', () => {})\n");
    write(root, "web/src/cart.ts", "export {}\n");
    write(root, "sentry.properties", "defaults.org=acme\n");
    write(
        root,
        "cfn/stack.yaml",
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n",
    );
    let scan = run(root);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

    assert!(has(&scan, "infrastructure as code", "infra", Some("terraform")));
    assert!(has(&scan, "infrastructure as code", "cfn/stack.yaml", Some("cloudformation")));
    assert!(has(&scan, "kubernetes (helm)", "charts/shop/Chart.yaml", Some("helm")));
    assert!(has(&scan, "kubernetes", "k8s", Some("kubernetes")));
    assert!(has(&scan, "kubernetes", "k8s/kustomization.yaml", Some("kustomize")));
    assert!(!has(&scan, "kubernetes", "charts/shop/templates", Some("kubernetes")), "chart templates are the chart");
    assert!(has(&scan, "configuration management", "ansible/playbook-deploy.yml", Some("ansible")));
    assert!(has(&scan, "configuration management", "ansible/roles/shop/tasks/main.yml", Some("ansible")));
    assert!(has(&scan, "monitoring", "monitoring/alerts.yml", Some("prometheus")));
    assert!(has(&scan, "monitoring", "sentry.properties", Some("sentry")));
    assert!(has(&scan, "runbook", "docs/runbooks", None));
    assert!(has(&scan, "runbook", "RUNBOOK.md", None));
    assert!(has(&scan, "post-incident review", "docs/postmortems", None));
    assert!(has(&scan, "post-incident review", "docs/postmortem-template.md", None));
    assert!(has(&scan, "rollback", "scripts/rollback.sh", None));
    assert!(has(&scan, "container", "Dockerfile", Some("docker")));
    assert!(has(&scan, "container", "docker-compose.yml", Some("docker-compose")));
    assert!(has(&scan, "tests", "tests", None));
    assert!(has(&scan, "tests", "web/src", None));

    let detail = |category: &str, path: &str| col(at(&scan, category, path)[0], "detail").unwrap().to_string();
    assert_eq!(detail("infrastructure as code", "infra"), "2 Terraform files");
    assert_eq!(detail("kubernetes", "k8s"), "1 Kubernetes manifest (Deployment, Service)");
    assert_eq!(detail("monitoring", "monitoring/alerts.yml"), "Prometheus 1 alerting rule");
    assert_eq!(detail("runbook", "docs/runbooks"), "2 runbook documents");
    assert_eq!(detail("tests", "tests"), "2 test files");
    assert_eq!(detail("tests", "web/src"), "1 test file");
    assert_eq!(detail("kubernetes (helm)", "charts/shop/Chart.yaml"), "Helm chart \"shop\"");
    assert_eq!(detail("post-incident review", "docs/postmortem-template.md"), "post-incident review template");

    let make = at(&scan, "rollback", "Makefile");
    assert_eq!(make.len(), 1);
    assert_eq!(line(make[0]), Some(4));
    assert_eq!(col(make[0], "tool"), Some("make"));
    assert_eq!(col(make[0], "kind"), Some("practice"));
    // Practices carry no line; grouped rows name the directory.
    assert_eq!(line(at(&scan, "tests", "tests")[0]), None);
    assert!(rows(&scan, "ci pipeline").is_empty());
    assert!(scan.rows.iter().all(|r| col(r, "kind") == Some("practice")));
}

#[test]
fn conservative_rules_reject_lookalikes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // An API specification is not a test suite.
    write(root, "spec/openapi.yaml", "openapi: 3.0.0\n");
    write(root, "spec/types.go", "package spec\n");
    // Application code about transactions is not a rollback script; a SQL migration is not one either.
    write(root, "src/db/rollback.ts", "export function rollback() {}\n");
    write(root, "migrations/0001_rollback.sql", "DROP TABLE x;\n");
    // Test fixtures and examples are not the repository's delivery.
    write(root, "tests/fixtures/.gitlab-ci.yml", "deploy:\n  script: x\n  when: manual\n");
    write(root, "tests/fixtures/Dockerfile", "FROM alpine\n");
    write(root, "examples/basic/main.tf", "module \"x\" {}\n");
    write(root, "testdata/foo_test.go", "package x\n");
    // Same shape as a manifest, but not a cluster resource.
    write(
        root,
        "catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shop\nspec:\n  type: service\n",
    );
    // Not Prometheus rules: no alert.
    write(root, "config/groups.yml", "groups:\n  - name: admins\n    members: [a]\n");
    // Dependencies and build output are skipped.
    write(root, "node_modules/pkg/Dockerfile", "FROM node\n");
    write(root, "target/debug/runbook.md", "x\n");
    // Markdown next to Ansible playbooks is a README, not a runbook.
    write(root, "ops/playbooks/README.md", "# How to run the playbooks\n");
    write(root, "ops/playbooks/site.yml", "- hosts: all\n");
    // A runbook-named YAML is not a document.
    write(root, "runbook.yml", "steps: []\n");
    let scan = run(root);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert!(scan.rows.is_empty(), "{:#?}", scan.rows);
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "Dockerfile", "FROM alpine\n");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    let scan = run(dir.path());
    assert!(scan.rows.is_empty(), "{:?}", scan.rows);
}

const MONOREPO_CONFIG: &str = r#"
[[services]]
name = "api"
repos = ["acme/mono"]
paths = ["services/api/**"]
production_environments = ["prd-*"]

[[services]]
name = "web"
paths = ["services/web"]

[[services]]
name = "elsewhere"
repos = ["acme/other"]
paths = ["services/**"]
"#;

#[test]
fn monorepo_rows_carry_their_service() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "services/api/Dockerfile", "FROM rust\n");
    write(root, "services/api/tests/health.rs", "#[test] fn t() {}\n");
    write(root, "services/web/Dockerfile", "FROM node\n");
    write(root, "services/web/app.spec.ts", "it('x', () => {})\n");
    write(root, "Dockerfile", "FROM alpine\n");
    write(
        root,
        "services/api/.gitlab-ci.yml",
        "deploy:\n  script: x\n  environment: prd-eu\n  when: manual\nlegacy:\n  script: x\n  environment: production\n",
    );
    let config = config(MONOREPO_CONFIG);
    let scan = scan(root, "acme/mono", &config).unwrap();
    let service = |category: &str, path: &str| col(at(&scan, category, path)[0], "service").map(str::to_string);
    assert_eq!(service("container", "services/api/Dockerfile").as_deref(), Some("api"));
    assert_eq!(service("container", "services/web/Dockerfile").as_deref(), Some("web"));
    assert_eq!(service("container", "Dockerfile"), None);
    assert_eq!(service("tests", "services/api/tests").as_deref(), Some("api"));
    assert_eq!(service("tests", "services/web").as_deref(), Some("web"));
    assert_eq!(service("manual job", "services/api/.gitlab-ci.yml").as_deref(), Some("api"));
    // The api service's own production patterns decide: `prd-eu` is production, `production` is not.
    let env = rows(&scan, "deployment environment");
    assert_eq!(env.len(), 1);
    assert!(col(env[0], "detail").unwrap().contains("prd-eu"));
    assert_eq!(col(env[0], "service"), Some("api"));
    assert!(scan.rows.iter().all(|r| col(r, "repo") == Some("acme/mono")));
}

#[test]
fn broken_yaml_is_a_warning_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".github/workflows/broken.yml", "on: workflow_dispatch\njobs:\n  deploy:\n    steps: [\n");
    write(root, ".gitlab-ci.yml", "deploy:\n  script: x\n when: manual\n");
    write(root, ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
    write(root, "Dockerfile", "FROM alpine\n");
    let scan = run(root);
    assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
    assert!(scan.warnings[0].starts_with(".github/workflows/broken.yml: workflow is not valid YAML"));
    assert!(scan.warnings[1].starts_with(".gitlab-ci.yml: GitLab CI configuration is not valid YAML"));
    assert_eq!(rows(&scan, "manual trigger").len(), 1);
    assert!(has(&scan, "container", "Dockerfile", Some("docker")));
    assert_eq!(
        col(at(&scan, "ci pipeline", ".github/workflows/broken.yml")[0], "detail"),
        Some("workflow (not valid YAML)")
    );
}

#[test]
fn oversized_and_binary_configuration_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let big = format!("pipeline {{\n{}}}\n", "// padding\n".repeat(110_000));
    write(root, "Jenkinsfile", &big);
    std::fs::create_dir_all(root.join(".circleci")).unwrap();
    std::fs::write(root.join(".circleci/config.yml"), [0xff, 0xfe, 0x00]).unwrap();
    let scan = run(root);
    assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
    assert!(scan.warnings[0].starts_with(".circleci/config.yml: not UTF-8"));
    assert!(scan.warnings[1].starts_with("Jenkinsfile: larger than 1 MiB"));
    assert_eq!(rows(&scan, "ci pipeline").len(), 2);
}

#[test]
fn rows_follow_the_schema_and_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
    write(root, ".gitlab-ci.yml", GITLAB_CI);
    write(root, "Jenkinsfile", JENKINSFILE);
    write(root, ".circleci/config.yml", CIRCLECI_CONFIG);
    write(root, "tests/a.rs", "");
    write(root, "infra/main.tf", "");
    let first = run(root);
    let second = run(root);
    assert_eq!(first, second);
    for row in &first.rows {
        assert_eq!(row.len(), EVIDENCE.columns.len());
        assert_eq!(col(row, "source"), Some("scan"));
        let expected = format!(
            "scan:acme/shop:{}:{}:{}",
            col(row, "path").unwrap(),
            line(row).unwrap_or(0),
            col(row, "category").unwrap()
        );
        assert_eq!(col(row, "id"), Some(expected.as_str()));
        for (i, column) in EVIDENCE.columns.iter().enumerate() {
            if column.required {
                assert_ne!(row[i], Value::Null, "{} is required", column.name);
            }
        }
    }
    let keys: Vec<(String, i64, String)> = first
        .rows
        .iter()
        .map(|r| (col(r, "path").unwrap().into(), line(r).unwrap_or(0), col(r, "category").unwrap().into()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let ids: BTreeSet<&str> = first.rows.iter().map(|r| col(r, "id").unwrap()).collect();
    assert_eq!(ids.len(), first.rows.len());
}

#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(scan(&dir.path().join("nope"), "acme/shop", &config("")).is_err());
}

#[test]
fn key_lines_follow_indentation() {
    let text = "a:\n  b:\n    c: 1\n  # comment\n  c: 2\nlist:\n- x: 1\n  c: 3\nc: 4\n";
    let lines = YamlLines::new(text);
    assert_eq!(lines.key_line(&["a", "b", "c"]), Some(3));
    assert_eq!(lines.key_line(&["a", "c"]), Some(5));
    assert_eq!(lines.key_line(&["c"]), Some(9));
    assert_eq!(lines.key_line(&["a", "x"]), None);
    assert_eq!(lines.find_in_block(6, |t| yaml_value(t, "c") == Some("3")), Some(8));
    assert!(key_matches("\"deploy:prod\":", "deploy:prod"));
    assert!(!key_matches("deploy:prod:", "deploy"));
    assert_eq!(yaml_value("- when: 'manual' # later", "when"), Some("manual"));
}

#[test]
fn jenkins_lexing_ignores_comments_and_strings() {
    let text = "/* input message: 'x'\n input message: 'y' */\nsh '''\ninput 'z'\n'''\ndef input = 1\nif (input) {}\ntimeout(5) { input 'Go?' }\n";
    let found = jenkins_inputs(text);
    assert_eq!(found, vec![JenkinsInput { line: 8, stage: None, message: Some("Go?".into()) }]);
}
