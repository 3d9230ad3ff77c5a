/** The lifecycle events, in the order a run meets them. */
export const HOOK_EVENTS = [
  'experimentStart',
  'epochStart',
  'batchStart',
  'batchEnd',
  'validationStart',
  'validationBatchEnd',
  'validationEnd',
  'epochEnd',
  'experimentEnd',
] as const;

export type HookEvent = (typeof HOOK_EVENTS)[number];

/** `epochEnd` → `onEpochEnd`: the name of the Callback method that handles an event. */
export function hookMethodName(event: HookEvent): HookMethodName {
  return `on${event[0].toUpperCase()}${event.slice(1)}` as HookMethodName;
}

export type HookMethodName =
  | 'onExperimentStart'
  | 'onEpochStart'
  | 'onBatchStart'
  | 'onBatchEnd'
  | 'onValidationStart'
  | 'onValidationBatchEnd'
  | 'onValidationEnd'
  | 'onEpochEnd'
  | 'onExperimentEnd';
