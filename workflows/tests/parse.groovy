// Parses Nextflow scripts (.nf), configs (.config) and nf-test files (.nf.test) with the Groovy
// compiler, up to the phase given by -Dphase (default: CONVERSION = syntax + AST; Nextflow's own
// AST transforms are not run, so this is a syntax check, not a Nextflow compile).
// Usage: groovy tests/parse.groovy FILE...    Exit 1 if any file fails.
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.MultipleCompilationErrorsException
import org.codehaus.groovy.control.Phases

def phase = Phases."${System.getProperty('phase', 'CONVERSION')}"
int failed = 0
args.each { name ->
    def config = new CompilerConfiguration()
    config.targetDirectory = File.createTempDir()
    def unit = new CompilationUnit(config)
    unit.addSource(new File(name))
    try {
        unit.compile(phase)
        println "ok      ${name}"
    } catch (MultipleCompilationErrorsException e) {
        failed++
        println "FAILED  ${name}"
        e.errorCollector.errors.each { err ->
            def cause = err.respondsTo('getCause') ? err.cause : null
            println "        ${cause ? cause.message : err}"
        }
    } finally {
        config.targetDirectory.deleteDir()
    }
}
println "groovy parse: ${args.size() - failed} passed, ${failed} failed"
System.exit(failed ? 1 : 0)
