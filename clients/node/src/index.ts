// @herald/node: Herald's server SDK.
export {Herald, Users, Workflows} from './herald';
export type {
  CallOptions, ChannelData, HeraldOptions, JsonObject, JsonValue, MethodName, PreferenceSet, Preferences, Recipient,
  RequestOf, ResponseOf, TlsOptions, TriggerOptions, TriggerResult, User, UserProperties,
} from './herald';
export {HeraldError} from './errors';
export type {BackoffOptions} from './retry';
