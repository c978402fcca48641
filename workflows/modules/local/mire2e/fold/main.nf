process MIRE2E_FOLD {
    tag "${meta.id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(windows)
    path model   // a model bundle folder, or [] for the bundle installed with mire2e ('default')

    output:
    tuple val(meta), path("${prefix}.fold.tsv"), emit: tsv
    tuple val("${task.process}"), val('mire2e'), eval('mire2e-fold --version | sed "s/.* //"'), topic: versions, emit: versions_mire2e

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def model_arg = model ? "--model ${model}" : ''
    def device = task.accelerator ? '--device cuda' : ''
    """
    mire2e-fold \\
        ${model_arg} \\
        ${device} \\
        ${args} \\
        -t ${task.cpus} \\
        -q \\
        -o ${prefix}.fold.tsv \\
        ${windows}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.fold.tsv
    """
}
