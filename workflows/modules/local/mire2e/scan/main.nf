process MIRE2E_SCAN {
    tag "${meta.id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine == 'singularity' && !task.ext.singularity_pull_docker_container ? 'https://depot.galaxyproject.org/singularity/mire2e:' + params.mire2e_container_tag : 'biocontainers/mire2e:' + params.mire2e_container_tag }"

    input:
    tuple val(meta), path(fasta)
    path model   // a model bundle folder, or [] for the bundle installed with mire2e ('default')

    output:
    tuple val(meta), path("${prefix}.scores.tsv")     , emit: scores
    tuple val(meta), path("${prefix}.candidates.bed") , emit: bed
    tuple val(meta), path("${prefix}.loci.gff3")      , emit: gff3
    tuple val(meta), path("${prefix}.report")         , emit: report
    tuple val(meta), path("${prefix}.tracks.*.bedgraph"), emit: bedgraph, optional: true
    tuple val(meta), path("${prefix}.tracks.*.bw")      , emit: bigwig, optional: true
    tuple val("${task.process}"), val('mire2e'), eval('mire2e --version | sed "s/.* //"'), topic: versions, emit: versions_mire2e

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def model_arg = model ? "--model ${model}" : ''
    def device = task.accelerator ? '--device cuda' : ''
    // bedGraph tracks are large (about 5 bytes per base and strand): opt-in with ext.tracks
    def tracks = task.ext.tracks ? "--bedgraph ${prefix}.tracks --bigwig ${prefix}.tracks" : ''
    """
    mire2e scan \\
        ${model_arg} \\
        ${device} \\
        ${args} \\
        -t ${task.cpus} \\
        -q \\
        --bed ${prefix}.candidates.bed \\
        --gff3 ${prefix}.loci.gff3 \\
        --report ${prefix}.report \\
        ${tracks} \\
        -o ${prefix}.scores.tsv \\
        ${fasta}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.scores.tsv
    touch ${prefix}.candidates.bed
    touch ${prefix}.loci.gff3
    mkdir ${prefix}.report
    touch ${prefix}.report/index.html
    """
}
