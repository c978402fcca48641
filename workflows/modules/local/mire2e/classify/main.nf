process MIRE2E_CLASSIFY {
    tag "${meta.id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(mfe)   // a stream that carries pairing and mfe (from MIRE2E_MFE)
    path model                   // a model bundle folder, or [] for the bundle installed with mire2e

    output:
    tuple val(meta), path("${prefix}.scores.tsv")     , emit: scores
    tuple val(meta), path("${prefix}.candidates.bed") , emit: bed
    tuple val("${task.process}"), val('mire2e'), eval('mire2e-classify --version | sed "s/.* //"'), topic: versions, emit: versions_mire2e

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def model_arg = model ? "--model ${model}" : ''
    def device = task.accelerator ? '--device cuda' : ''
    """
    mire2e-classify \\
        ${model_arg} \\
        ${device} \\
        ${args} \\
        -t ${task.cpus} \\
        -q \\
        --bed ${prefix}.candidates.bed \\
        -o ${prefix}.scores.tsv \\
        ${mfe}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.scores.tsv
    touch ${prefix}.candidates.bed
    """
}
