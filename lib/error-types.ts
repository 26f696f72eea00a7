/**
 * Stable `ApplicationFailure.type` values that cross the activity → workflow → API boundary.
 * Pure constants: the workflow lists the "a person must fix this" ones as non-retryable.
 */
export const ErrorType = {
  /** The app registration lacks a Graph permission or directory role. */
  PermissionDenied: 'PermissionDenied',
  /** The tenant rejected the app's credentials (wrong secret, unknown app or tenant). */
  AuthenticationFailed: 'AuthenticationFailed',
  /** Not enough free Teams Phone Resource Account licenses; someone must buy (free) units. */
  LicensesInsufficient: 'LicensesInsufficient',
  /** The tenant has no Teams Phone Resource Account subscription at all. */
  LicenseSkuMissing: 'LicenseSkuMissing',
  /** The UPN belongs to an object that is not a resource account. */
  UpnConflict: 'UpnConflict',
  /** A resource account with this UPN exists but is of the other kind (auto attendant vs call queue). */
  AccountKindConflict: 'AccountKindConflict',
  /** The UPN's domain is not a verified domain of the tenant. */
  DomainNotVerified: 'DomainNotVerified',
  /** The usage location was refused. */
  UsageLocationInvalid: 'UsageLocationInvalid',
  /** The number is not in the tenant's inventory (or not of the requested type). */
  NumberNotFound: 'NumberNotFound',
  /** The number is assigned to another user or resource account. */
  NumberAlreadyAssigned: 'NumberAlreadyAssigned',
  /** The number is a subscriber (user) number; resource accounts need a service number. */
  NumberNotServiceNumber: 'NumberNotServiceNumber',
  /** Microsoft refused the request as malformed; a bug or an unexpected tenant state. */
  InvalidRequest: 'InvalidRequest',
  /** 429: retried after the server's Retry-After (and the worker's calls pause meanwhile). */
  Throttled: 'Throttled',
  /** 5xx (503 Service Unavailable, 504 Gateway Timeout, …) or no answer: retried with backoff, honouring Retry-After. */
  TransientServiceError: 'TransientServiceError',
  /** A just-created object is not yet visible on the replica that answered (eventual consistency). */
  NotYetVisible: 'NotYetVisible',
  /** The license is assigned but has not finished provisioning; the wait step retries. */
  LicenseNotYetProvisioned: 'LicenseNotYetProvisioned',
  /** Teams does not yet see the account or its license, so the number cannot be assigned yet. */
  AccountNotReadyForNumber: 'AccountNotReadyForNumber',
  /** Teams does not see the account's license yet, so it refuses the association; the step retries. */
  AccountNotReadyForAssociation: 'AccountNotReadyForAssociation',
  /** A step's deadline passed (e.g. the license never reached Teams within the propagation timeout). */
  Timeout: 'Timeout',
  /** A number assignment operation failed for a reason not recognised. */
  NumberAssignmentFailed: 'NumberAssignmentFailed',
  /** The license subscription exists but is Suspended, LockedOut or Deleted: no unit can be assigned. */
  LicenseSubscriptionInactive: 'LicenseSubscriptionInactive',
  /** A soft-deleted account (in Entra's deleted users for 30 days) holds the UPN; restore or purge it. */
  DeletedAccountHoldsUpn: 'DeletedAccountHoldsUpn',
  /** The account still holds a number, so deleting it would leave the number stuck pending. */
  AccountHoldsNumber: 'AccountHoldsNumber',
  /** Unassigning the number failed; the account is left as it is until someone frees the number. */
  NumberUnassignFailed: 'NumberUnassignFailed',
  /**
   * The number is on the account but Teams reports its activation as failed (`assignmentFailed`,
   * `updateFailed`): it does not work there and does not recover by itself; a person fixes it in the
   * Teams admin center.
   */
  NumberActivationFailed: 'NumberActivationFailed',
  /** A Calling Plan number's country differs from the account's usage location; Teams refuses the assignment. */
  NumberCountryMismatch: 'NumberCountryMismatch',
  /** The worker cannot speak to Teams at all: PowerShell 7 (`pwsh`) or the pinned MicrosoftTeams module is missing. */
  TeamsAdminNotInstalled: 'TeamsAdminNotInstalled',
  /** The auto attendant or call queue named for the association does not exist (or is of the other type). */
  VoiceAppNotFound: 'VoiceAppNotFound',
  /** The account is already associated with another auto attendant or call queue. */
  AssociationConflict: 'AssociationConflict',
  /** The pre-flight found one or more problems before any write; each is listed with its own type. */
  PreflightFailed: 'PreflightFailed',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Failures only a person can fix: retrying them unchanged cannot help. */
export const NEEDS_PERSON_ERROR_TYPES: readonly ErrorTypeName[] = [
  ErrorType.PermissionDenied,
  ErrorType.AuthenticationFailed,
  ErrorType.LicensesInsufficient,
  ErrorType.LicenseSkuMissing,
  ErrorType.UpnConflict,
  ErrorType.AccountKindConflict,
  ErrorType.DomainNotVerified,
  ErrorType.UsageLocationInvalid,
  ErrorType.NumberNotFound,
  ErrorType.NumberAlreadyAssigned,
  ErrorType.NumberNotServiceNumber,
  ErrorType.InvalidRequest,
  ErrorType.NumberAssignmentFailed,
  ErrorType.LicenseSubscriptionInactive,
  ErrorType.DeletedAccountHoldsUpn,
  ErrorType.AccountHoldsNumber,
  ErrorType.NumberUnassignFailed,
  ErrorType.NumberCountryMismatch,
  ErrorType.NumberActivationFailed,
  ErrorType.TeamsAdminNotInstalled,
  ErrorType.VoiceAppNotFound,
  ErrorType.AssociationConflict,
  ErrorType.PreflightFailed,
];

/**
 * Failures that are part of normal operation: the wait steps' "not yet" (retried by design) and every
 * failure a person must fix (the run then waits for a decision). The worker logs them without a stack
 * trace and they are not counted as activity errors.
 */
export const EXPECTED_ERROR_TYPES: readonly ErrorTypeName[] = [
  ...NEEDS_PERSON_ERROR_TYPES,
  ErrorType.NotYetVisible,
  ErrorType.LicenseNotYetProvisioned,
  ErrorType.AccountNotReadyForNumber,
  ErrorType.AccountNotReadyForAssociation,
  ErrorType.Throttled,
  ErrorType.TransientServiceError,
];
