/**
 * Scoring image files with a run is `lib/train/score.ts` (the one scoring path, also used by
 * training's validation scoring); its functions are re-exported here under their old import path
 * for callers that still use it.
 * @module
 */
export { inputTensor, type ScorableRun, scoreRecords, type Scores } from "../train/score.ts";
