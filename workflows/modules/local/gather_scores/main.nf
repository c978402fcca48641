process GATHER_SCORES {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/../mire2e/window/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(scores, stageAs: 'chunks/*'), path(beds, stageAs: 'chunks/*')

    output:
    tuple val(meta), path("${prefix}.scores.tsv")     , emit: scores
    tuple val(meta), path("${prefix}.candidates.bed") , emit: bed

    when:
    task.ext.when == null || task.ext.when

    script:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mire2e-gather -o ${prefix}.scores.tsv -b ${prefix}.candidates.bed chunks/*.scores.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.scores.tsv
    touch ${prefix}.candidates.bed
    """
}
