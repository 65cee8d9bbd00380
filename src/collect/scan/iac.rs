//! The **infrastructure as code** practice: Terraform, Terragrunt, Pulumi, AWS CDK, CloudFormation.

use super::*;

impl Scanner<'_> {
    /// **infrastructure as code**: Terraform `*.tf`/`*.tf.json` (one row per module directory),
    /// `terragrunt.hcl`, Pulumi projects (`Pulumi.yaml`; stack files are not counted again), AWS CDK
    /// apps (`cdk.json`), CloudFormation templates (YAML with a top-level `AWSTemplateFormatVersion`
    /// or SAM `Transform` and `Resources`; JSON with both top-level keys).
    pub(super) fn infrastructure(&mut self, f: &FileFacts, text: Option<&str>) {
        let (path, name, lower, ext, yaml) = (f.path, f.name, f.lower.as_str(), f.ext.as_str(), f.yaml);
        let key = "infrastructure as code";
        if ext == "tf" || lower.ends_with(".tf.json") {
            self.group(parent(path), path, (key, Some("terraform")), ("Terraform file", "Terraform files"), None);
        } else if lower == "terragrunt.hcl" {
            self.practice(path, key, Some("terragrunt"), "Terragrunt configuration".into());
        } else if name == "Pulumi.yaml" || name == "Pulumi.yml" {
            self.practice(path, key, Some("pulumi"), "Pulumi project".into());
        } else if lower == "cdk.json" {
            self.practice(path, key, Some("aws-cdk"), "AWS CDK app".into());
        } else if let Some(text) = text {
            let cloudformation = if yaml {
                let top = top_level(text);
                let has = |k: &str| top.iter().any(|(key, _)| *key == k);
                let sam = top.iter().any(|(k, v)| *k == "Transform" && v.contains("AWS::Serverless"));
                (has("AWSTemplateFormatVersion") || sam) && has("Resources")
            } else if (ext == "json" || ext == "template") && text.contains("\"AWSTemplateFormatVersion\"") {
                serde_json::from_str::<serde_json::Value>(text).ok().is_some_and(|v| {
                    v.get("AWSTemplateFormatVersion").is_some() && v.get("Resources").is_some_and(|r| r.is_object())
                })
            } else {
                false
            };
            if cloudformation {
                self.practice(path, key, Some("cloudformation"), "CloudFormation template".into());
            }
        }
    }
}
