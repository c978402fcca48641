process MIRE2E_WINDOW {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(fasta)

    output:
    tuple val(meta), path("${prefix}.windows.tsv"), emit: windows
    tuple val("${task.process}"), val('mire2e'), eval('mire2e-window --version | sed "s/.* //"'), topic: versions, emit: versions_mire2e

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mire2e-window \\
        ${args} \\
        -t ${task.cpus} \\
        -q \\
        -o ${prefix}.windows.tsv \\
        ${fasta}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.windows.tsv
    """
}
