"""SAM -> CloudFormation, offline (no AWS calls), so that cfn-lint can check what SAM generates.

usage: python infra/sam_translate.py template.yaml out.json
"""
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator needs a region; it never calls AWS
from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoIamManagedPolicyLoader:
    def load(self):
        return {}


src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    template = yaml_parse(f.read())


def packaged(props):
    """As `sam package` does: a local CodeUri becomes an S3 URI."""
    uri = props.get("CodeUri")
    if isinstance(uri, str) and not uri.startswith("s3://"):
        props["CodeUri"] = "s3://placeholder-bucket/" + (uri.strip("./") or "root")


packaged(template.get("Globals", {}).get("Function", {}))
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        packaged(resource.get("Properties") or {})
try:
    output = transform(template, {}, NoIamManagedPolicyLoader())
except InvalidDocumentException as error:
    for cause in error.causes:
        print("SAM transform error:", cause.message)
    sys.exit(1)
with open(dst, "w") as f:
    json.dump(output, f, indent=1)
