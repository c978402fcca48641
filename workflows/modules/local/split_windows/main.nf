process SPLIT_WINDOWS {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/../mire2e/window/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(windows)
    val rows    // rows per chunk
    val align   // cut only at multiples of this many rows from a record's start (1 = anywhere)

    output:
    tuple val(meta), path("${prefix}.chunk*.tsv"), emit: chunks

    when:
    task.ext.when == null || task.ext.when

    script:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mire2e-split-windows -n ${rows} -a ${align} -p ${prefix} ${windows}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.chunk000001.tsv
    """
}
