// How a caller's deadline bounds the work done for it. The deadline is only
// known from when the call is read, and a loaded process may read it late,
// so an answer must be ready a margin before it: at least 100 ms, or a tenth
// of the call's budget.

export const answerMarginMillis = 100

export const answerMarginFor = (budgetMillis: number): number => Math.max(answerMarginMillis, budgetMillis / 10)

/** When the answer to a call with this `deadline`, seen at `now`, must be ready (same clock, ms). */
export const answerDue = (deadline: number, now: number): number => deadline - answerMarginFor(deadline - now)

/** An attempt shorter than this is not worth making. */
export const minimalAttemptMillis = 50
