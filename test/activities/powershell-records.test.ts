/**
 * Error records of the MicrosoftTeams module as public reports show them, read by records.ts. The first
 * is the record of office-docs-powershell issue 10363, exactly as posted: its text matches none of the
 * words the script used to look for, so the script called it `transient` and the step retried for ever.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { classifyRecord, recordStatus, saysNothingAboutTheObject } from '../../activities/teams-admin/powershell/records';
import { CMDLETS, POWERSHELL_SCRIPT_PATH } from '../../activities/teams-admin/powershell/protocol';
import type { ErrorRecordInfo } from '../../activities/teams-admin/powershell/protocol';

const record = (fullyQualifiedErrorId: string, message: string, extra: Partial<ErrorRecordInfo> = {}): ErrorRecordInfo =>
  ({ fullyQualifiedErrorId, message, category: 'InvalidOperation', reason: 'UndeclaredResponseException', ...extra });

describe('MicrosoftTeams error records', () => {
  test('"Access Denied." of New-CsOnlineApplicationInstance (issue 10363) is forbidden, by its status', () => {
    const denied = classifyRecord(record('Forbidden,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance', 'Access Denied.'));
    assert.deepEqual([denied.kind, denied.by, denied.status], ['forbidden', 'status', 403]);
    assert.equal(denied.message, 'Access Denied.');
    assert.equal(saysNothingAboutTheObject(denied), true);
  });

  test('the statuses public records show, by name and (Windows PowerShell 5.1) by number', () => {
    const cases: [string, string, string][] = [
      ['NotFound,Microsoft.Teams.ConfigAPI.Cmdlets.Generated.Cmdlets.SetCsPhoneNumberAssignment_Set', 'The server responded with a Request Error, Status: NotFound', 'notFound'],
      ['BadRequest,Microsoft.Teams.ConfigAPI.Cmdlets.Generated.Cmdlets.SetCsAutoAttendant_SetExpanded', 'An application endpoint with specified ID (x) was not found in tenant (y).', 'invalid'],
      ['InternalServerError,Microsoft.Teams.ConfigAPI.Cmdlets.Generated.Cmdlets.SetCsCallQueue_SetExpanded', 'Something went wrong. Please try again after sometime.', 'transient'],
      ['TooManyRequests,Microsoft.Teams.ConfigApi.Cmdlets.GetCsCallQueue', 'Too Many Requests', 'throttled'],
      ['429,Microsoft.Teams.ConfigApi.Cmdlets.GetCsCallQueue', 'Too Many Requests', 'throttled'],
      ['Unauthorized,Microsoft.Teams.ConfigApi.Cmdlets.GetCsCallQueue', 'Unauthorized', 'unauthenticated'],
      ['BadRequest,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance', 'Another object with the same value for property userPrincipalName already exists.', 'conflict'],
      ['BadRequest,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance', "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.", 'domainNotVerified'],
      ['BadRequest,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstanceAssociation', "Application instance 'x' is not provisioned for this operation yet. (AppEndpointMissingProvisioning)", 'invalid'],
      ['NotFound,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstanceAssociation', "Application instance 'x' was not found. (AppEndpointNotFound)", 'notFound'],
    ];
    for (const [id, message, kind] of cases) assert.equal(classifyRecord(record(id, message)).kind, kind, `${id}: ${message}`);
    assert.equal(classifyRecord(record('BadRequest,X', "… (AppEndpointMissingProvisioning)")).code, 'AppEndpointMissingProvisioning');
    assert.equal(recordStatus({ fullyQualifiedErrorId: 'ServiceUnavailable,X' }), 503);
    assert.equal(recordStatus({ fullyQualifiedErrorId: 'NativeCommandError' }), undefined);
  });

  test('a record nothing recognises is transient, and a lookup reads it as "none" (as Microsoft\'s bulk tools do)', () => {
    const unknown = classifyRecord(record('SomethingElse,Microsoft.Teams.ConfigApi.Cmdlets.GetCsOnlineApplicationInstanceAssociation', 'Correlation id for this request : 88ed1f66'));
    assert.deepEqual([unknown.kind, unknown.by], ['transient', 'default']);
    assert.equal(saysNothingAboutTheObject(unknown), false);
    const noAssociation = classifyRecord(record('BadRequest,Microsoft.Teams.ConfigApi.Cmdlets.GetCsOnlineApplicationInstanceAssociation', 'Correlation id for this request : 88ed1f66'));
    assert.equal(saysNothingAboutTheObject(noAssociation), false);
    // Words of older module versions, without a status: recognised, and they do say nothing about the object.
    const old = classifyRecord(record('System.Exception', '[Forbidden] : Access Denied.'));
    assert.deepEqual([old.kind, old.by, saysNothingAboutTheObject(old)], ['forbidden', 'text', true]);
  });

  test('secrets in a record never reach the classified message', () => {
    const leaked = classifyRecord(record('Unauthorized,X', 'token eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln refused', { errorDetails: 'Bearer abc.def' }));
    assert.doesNotMatch(leaked.message, /eyJ|abc\.def/);
  });
});

describe('the script and the adapter', () => {
  test('allow the same cmdlets, in the same order', () => {
    const script = readFileSync(POWERSHELL_SCRIPT_PATH, 'utf8');
    const list = /\$AllowedCmdlets = @\(([^)]*)\)/.exec(script)?.[1];
    assert.ok(list, 'the script declares $AllowedCmdlets');
    assert.deepEqual([...list.matchAll(/'([^']+)'/g)].map((m) => m[1]), [...CMDLETS]);
  });
});
