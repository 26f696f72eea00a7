/**
 * The embedded local tenant: identifiers the tenant simulator is seeded with and the worker uses by
 * default. They are valid only against the simulator; a real tenant needs its own app registration.
 */
export const LOCAL_TENANT_ID = '8d3f1a52-6c1e-4b7a-9f0e-2d1c5b7a9e10';
export const LOCAL_TENANT_DOMAIN = 'contoso.onmicrosoft.com';
export const LOCAL_CLIENT_ID = 'b1e5c0de-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
/** Not a secret: the simulator's built-in app accepts it, nothing else does. */
export const LOCAL_CLIENT_SECRET = 'simulator-only-client-secret';
/**
 * The simulated CSP partner: a second tenant of the simulator, with the app registered in its Partner
 * Center account (Account settings > App management). Partner Center tokens are asked from this tenant
 * with this app, never from the customer's tenant. Valid only against the simulator.
 */
export const LOCAL_PARTNER_TENANT_ID = '3f6b2d81-9c4e-4a57-b0d2-7e1a5c9f4b36';
export const LOCAL_PARTNER_TENANT_DOMAIN = 'fabrikam-csp.onmicrosoft.com';
export const LOCAL_PARTNER_CLIENT_ID = 'c0ffee5e-2b3c-4d4e-9f5a-6b7c8d9e0f1a';
/** Not a secret: the simulated partner tenant's app accepts it, nothing else does. */
export const LOCAL_PARTNER_CLIENT_SECRET = 'simulator-only-partner-client-secret';
export const LOCAL_SIMULATOR_PORT = 8443;
export const LOCAL_API_PORT = 3000;
export const LOCAL_TEMPORAL_PORT = 7233;
export const LOCAL_TEMPORAL_UI_PORT = 8233;
