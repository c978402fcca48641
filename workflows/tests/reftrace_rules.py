"""reftrace lint rules for the mire2e workflow (run by workflows/check.sh).

reftrace parses every .nf and .config file with its own Nextflow parser; a file it cannot parse is
an error by itself. These rules then check the conventions of docs/packaging.md (nf-core style).
"""
from reftrace import Module, ConfigFile
from reftrace.linting import LintError, LintWarning, LintResults, rule, configrule

LABELS = {"process_single", "process_gpu"}


@rule
def one_tag_with_meta_id(module: Module, results: LintResults):
    for process in module.processes:
        tags = process.tags
        if len(tags) != 1:
            results.errors.append(LintError(process.line, f"process {process.name}: needs exactly one tag, has {len(tags)}"))


@rule
def known_label(module: Module, results: LintResults):
    for process in module.processes:
        labels = [label.label for label in process.labels]
        if len(labels) != 1 or labels[0] not in LABELS:
            results.errors.append(LintError(process.line, f"process {process.name}: needs one label of {sorted(LABELS)}, has {labels}"))


@rule
def conda_and_container(module: Module, results: LintResults):
    for process in module.processes:
        if len(process.condas) != 1:
            results.errors.append(LintError(process.line, f"process {process.name}: needs one conda directive"))
        containers = process.containers
        if len(containers) != 1:
            results.errors.append(LintError(process.line, f"process {process.name}: needs one container directive"))
            continue
        text = str(containers[0])
        for needle in ("biocontainers/mire2e:", "depot.galaxyproject.org/singularity/mire2e:"):
            if needle not in text:
                results.errors.append(LintError(containers[0].line, f"process {process.name}: container should name {needle}"))


@rule
def gpu_stages_only_for_models(module: Module, results: LintResults):
    for process in module.processes:
        labels = [label.label for label in process.labels]
        model_stage = process.name in {"MIRE2E_FOLD", "MIRE2E_MFE", "MIRE2E_CLASSIFY", "MIRE2E_SCAN"}
        if model_stage != ("process_gpu" in labels):
            results.errors.append(LintError(process.line, f"process {process.name}: process_gpu is for the model stages only"))


def _closure_violation(value):
    return bool(value.params) and not value.in_closure


@configrule
def params_in_closures(config: ConfigFile, results: LintResults):
    """Process directives that read params must be closures (evaluated per task, after params load)."""
    for scope in config.process_scopes:
        for named in [scope] + list(scope.named_scopes):
            for directive in named.directives:
                values = [directive.value] if directive.value else [o.value for o in directive.options if o.name != "mode"]
                for value in values:
                    if _closure_violation(value):
                        results.errors.append(LintError(directive.line_number, f"directive {directive.name} reads params outside a closure"))
