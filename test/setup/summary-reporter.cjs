// mocha's spec reporter plus a last plain line "N passed, N failed" that CI tools read.
const { reporters } = require('mocha')

class SpecWithSummary extends reporters.Spec {
  constructor (runner, options) {
    super(runner, options)
    runner.once('end', () => {
      const { passes, failures, pending } = runner.stats
      console.log(`${passes} passed, ${failures} failed${pending > 0 ? `, ${pending} skipped` : ''}`)
    })
  }
}

module.exports = SpecWithSummary
