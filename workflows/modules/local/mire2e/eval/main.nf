process MIRE2E_EVAL {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(scores), path(truth)   // scores stream; known pre-miRNAs (GFF3 or BED)

    output:
    tuple val(meta), path("${prefix}.metrics.tsv"), emit: metrics
    tuple val(meta), path("${prefix}")            , emit: report
    tuple val("${task.process}"), val('mire2e'), eval('mire2e-eval --version | sed "s/.* //"'), topic: versions, emit: versions_mire2e

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mire2e-eval \\
        ${args} \\
        -q \\
        --scores ${scores} \\
        --label ${meta.id} \\
        --truth ${truth} \\
        --report ${prefix} \\
        -o ${prefix}.metrics.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/metrics.tsv ${prefix}.metrics.tsv
    """
}
