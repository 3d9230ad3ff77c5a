export * from './order';
export * from './events';
export * from './callback';
export * from './decorators';
export * from './runner';
export * from './leak-guard';
export { decoratedHooks, registeredCallbackInfo, setRegisteredCallbackInfo } from './metadata';
export type { DecoratedHook, RegisteredCallbackInfo } from './metadata';
