#!/usr/bin/env nextflow
/*
 * mire2e: genome-wide pre-miRNA discovery (a Rust re-implementation of miRe2e,
 * Raad et al., Bioinformatics 2022, doi:10.1093/bioinformatics/btab823).
 *
 * FASTA -> MIRE2E_WINDOW -> SPLIT_WINDOWS -> per chunk, in parallel: MIRE2E_FOLD -> MIRE2E_MFE
 *       -> MIRE2E_CLASSIFY -> GATHER_SCORES (scores TSV + candidates BED) -> MIRE2E_EVAL (with --truth)
 * or, with --scan, one MIRE2E_SCAN per FASTA (the whole cascade in one process).
 *
 *   nextflow run workflows/main.nf -profile docker --input 'genomes/*.fa.gz' --outdir results
 */

include { MIRE2E_WINDOW   } from './modules/local/mire2e/window/main'
include { SPLIT_WINDOWS   } from './modules/local/split_windows/main'
include { MIRE2E_FOLD     } from './modules/local/mire2e/fold/main'
include { MIRE2E_MFE      } from './modules/local/mire2e/mfe/main'
include { MIRE2E_CLASSIFY } from './modules/local/mire2e/classify/main'
include { GATHER_SCORES   } from './modules/local/gather_scores/main'
include { MIRE2E_EVAL     } from './modules/local/mire2e/eval/main'
include { MIRE2E_SCAN     } from './modules/local/mire2e/scan/main'

/*
 * The cascade over one or more FASTA files.
 *   ch_fasta:  [ meta, fasta ]
 *   ch_truth:  a truth annotation (GFF3 or BED) for MIRE2E_EVAL, or an empty channel
 *   model:     a model bundle folder, or [] for the bundle installed with mire2e ('default')
 */
workflow MIRE2E {
    take:
    ch_fasta
    ch_truth
    model

    main:
    def ch_scores
    def ch_bed
    if (params.scan) {
        MIRE2E_SCAN(ch_fasta, model)
        ch_scores = MIRE2E_SCAN.out.scores
        ch_bed    = MIRE2E_SCAN.out.bed
    } else {
        MIRE2E_WINDOW(ch_fasta)
        // With batch-compat attention a chunk must not cut one of the original's batches in two.
        def align = params.attention == 'batch-compat' ? params.compat_batch : 1
        SPLIT_WINDOWS(MIRE2E_WINDOW.out.windows, params.chunk_size, align)

        // One task per chunk; the chunk's meta remembers its FASTA's meta and the chunk count,
        // so the gather starts as soon as the last chunk of that FASTA is scored.
        ch_chunks = SPLIT_WINDOWS.out.chunks.flatMap { meta, chunks ->
            def list = chunks instanceof List ? chunks : [chunks]
            list.collect { chunk -> [ [ id: chunk.baseName, parent: meta, n_chunks: list.size() ], chunk ] }
        }
        MIRE2E_FOLD(ch_chunks, model)
        MIRE2E_MFE(MIRE2E_FOLD.out.tsv, model)
        MIRE2E_CLASSIFY(MIRE2E_MFE.out.tsv, model)

        ch_gather = MIRE2E_CLASSIFY.out.scores
            .join(MIRE2E_CLASSIFY.out.bed)
            .map { cmeta, scores, bed -> [ groupKey(cmeta.parent, cmeta.n_chunks), scores, bed ] }
            .groupTuple()
            .map { key, scores, beds -> [ key.getGroupTarget(), scores, beds ] }
        GATHER_SCORES(ch_gather)
        ch_scores = GATHER_SCORES.out.scores
        ch_bed    = GATHER_SCORES.out.bed
    }

    MIRE2E_EVAL(ch_scores.combine(ch_truth))

    emit:
    scores = ch_scores               // [ meta, scores.tsv ]
    bed    = ch_bed                  // [ meta, candidates.bed ]
    eval   = MIRE2E_EVAL.out.report  // [ meta, report/ ]
}

workflow {
    main:
    if (!params.input) {
        error "Give --input FASTA (a path or a glob; plain, gzip or bgzip). See docs/packaging.md."
    }
    if (!(params.attention in ['window', 'batch-compat'])) {
        error "--attention must be 'window' or 'batch-compat', not '${params.attention}'"
    }
    if (!(params.precision in ['f32', 'bf16'])) {
        error "--precision must be 'f32' or 'bf16', not '${params.precision}'"
    }
    if ((params.decoy != null || params.tracks) && !params.scan) {
        error "--decoy and --tracks need --scan (the decoy is scanned from the FASTA)"
    }
    if (params.prefilter && !params.scan) {
        error "--prefilter needs --scan (the chunked stages have no prefilter)"
    }
    ch_fasta = channel.fromPath(params.input, checkIfExists: true)
        .map { fasta -> [ [ id: fasta.simpleName ], fasta ] }
    ch_truth = params.truth ? channel.value(file(params.truth, checkIfExists: true)) : channel.empty()
    model = params.model ? file(params.model, checkIfExists: true) : []

    MIRE2E(ch_fasta, ch_truth, model)

    // One line per process and tool, from the `versions` topic every module writes to.
    channel.topic('versions')
        .unique()
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n  ${tool}: ${version}" }
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: true)
}
