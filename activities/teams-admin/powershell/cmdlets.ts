/**
 * The TeamsAdmin port in MicrosoftTeams cmdlets: which cmdlet each verb runs, with which parameters, and
 * how its raw output and error records are read — as Microsoft's documentation and public code read
 * them, each rule with its source:
 *
 * - Lookups of resource accounts use `Get-CsOnlineApplicationInstance -Identities <upn,upn,…>` in chunks
 *   of {@link IDENTITIES_CHUNK}, never the bare cmdlet: without `-Identity`/`-Identities` it returns
 *   every instance of the tenant, and `-ResultSize`/`-Skip` are "currently not working" (DOC:
 *   office-docs-powershell Get-CsOnlineApplicationInstance.md). `-Identities` takes "the UPNs or the
 *   object IDs … separated with comma" (same page); how many at once is not documented (GUESS: 20).
 * - Reads whose "none" is an answer — the association, an auto attendant or call queue, a lookup —
 *   run with `-ErrorAction SilentlyContinue` and test the output, as public code does (records.ts,
 *   `saysNothingAboutTheObject`): the wording of "none" is not public, so no text is matched.
 * - `New-CsOnlineApplicationInstanceAssociation` answers an `AssociationOperationOutput` whose
 *   `Results[]` carry `ConfigurationId`, `Result`, `StatusCode` and `StatusMessage` (module 2.x script;
 *   TeamsFunctions reads `.Results.Message`). Neither Microsoft's bulk tools (which pipe it to
 *   `Out-Null`) nor TeamsFunctions compare `Result` with any value: they rely on the cmdlet failing
 *   (`-ErrorAction Stop`). So does this: an item fails only when its `StatusCode` is an HTTP error
 *   status; `Result` is reported, never matched.
 */
import { randomUUID } from 'node:crypto';
import type { ApplicationInstance, AssociateInput, Association, ConfigurationType, TeamsAdmin, VoiceApp } from '../teams-admin';
import { TeamsAdminError } from '../teams-admin';
import { GatheredLookups, chunks } from '../../gather';
import type { Cmdlet, InvokeArgs, InvokeResult, ParameterValue } from './protocol';
import { classifyRecord, recordStatus, saysNothingAboutTheObject } from './records';

/** UPNs per `-Identities` lookup (no documented limit; a command line of a few hundred characters). */
export const IDENTITIES_CHUNK = 20;

/** Runs one cmdlet on some PowerShell session (pool.ts). */
export type Invoke = (args: InvokeArgs) => Promise<InvokeResult>;

const invokeWith = (invoke: Invoke, cmdlet: Cmdlet, parameters: Record<string, ParameterValue>, errorAction: InvokeArgs['errorAction']) =>
  invoke({ cmdlet, parameters, errorAction });

/** A property of a module object, whatever the case ConvertTo-Json gave its name. */
function field(raw: Record<string, unknown>, name: string): unknown {
  if (name in raw) return raw[name];
  const key = Object.keys(raw).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : raw[key];
}

const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** `Get-/New-CsOnlineApplicationInstance` output: ObjectId, TenantId, UserPrincipalName, ApplicationId, DisplayName, PhoneNumber (office-docs-powershell issue 9087). */
export function instanceOf(raw: Record<string, unknown>): ApplicationInstance {
  const phone = field(raw, 'PhoneNumber');
  return {
    objectId: text(field(raw, 'ObjectId')).toLowerCase(),
    userPrincipalName: text(field(raw, 'UserPrincipalName')),
    displayName: text(field(raw, 'DisplayName')),
    applicationId: text(field(raw, 'ApplicationId')).toLowerCase(),
    phoneNumber: phone === undefined || phone === null || phone === '' ? null : String(phone),
  };
}

/**
 * Errors a read wrote beside its output: those that say nothing about the object fail the read; the
 * rest are the cmdlet's way of saying "none" (records.ts).
 */
function failOnUnrelatedErrors(cmdlet: Cmdlet, result: InvokeResult): void {
  for (const record of result.errors ?? []) {
    const classified = classifyRecord(record);
    if (saysNothingAboutTheObject(classified)) {
      throw new TeamsAdminError(classified.kind, `${cmdlet}: ${classified.message}`, {
        ...(classified.code ? { code: classified.code } : {}),
        ...(classified.retryAfterMs !== undefined ? { retryAfterMs: classified.retryAfterMs } : {}),
        ...(classified.status !== undefined ? { status: classified.status } : {}),
        fullyQualifiedErrorId: record.fullyQualifiedErrorId,
      });
    }
  }
}

/** A read whose "none" is an answer: the output, or [] when the cmdlet only wrote that there is none. */
async function readOrNone(invoke: Invoke, cmdlet: Cmdlet, parameters: Record<string, ParameterValue>): Promise<Record<string, unknown>[]> {
  const result = await invokeWith(invoke, cmdlet, parameters, 'SilentlyContinue');
  failOnUnrelatedErrors(cmdlet, result);
  return (result.output ?? []).filter((item) => item && typeof item === 'object');
}

/** An HTTP status named by a number or a `HttpStatusCode` name (`Created`, `Conflict`). */
function statusOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d{3}$/.test(value.trim())) return Number(value);
  return recordStatus({ fullyQualifiedErrorId: value.trim() }) ?? (/^(OK|Created|Accepted|NoContent)$/i.test(value.trim()) ? 200 : undefined);
}

/** Per-item failures of the association cmdlets, raised so they are classified like the cmdlet's own errors. */
function assertItemsSucceeded(cmdlet: Cmdlet, output: Record<string, unknown>[]): void {
  const items = output.flatMap((entry) => {
    const results = field(entry, 'Results');
    return Array.isArray(results) ? (results as Record<string, unknown>[]) : [entry];
  });
  for (const item of items) {
    const status = statusOf(field(item, 'StatusCode'));
    if (status === undefined || status < 400) continue;
    const said = [field(item, 'StatusMessage'), field(item, 'Message')].map(text).filter(Boolean).join(' ');
    const record = { fullyQualifiedErrorId: `${text(field(item, 'StatusCode'))},${cmdlet}`, message: `${said}${field(item, 'Result') ? ` (Result ${text(field(item, 'Result'))})` : ''}`.trim() };
    const classified = classifyRecord(record);
    throw new TeamsAdminError(classified.kind, `${cmdlet}: ${classified.message}`, {
      ...(classified.code ? { code: classified.code } : {}),
      status,
    });
  }
}

/** The TeamsAdmin verbs over `invoke`; `probe` is given its answer's prefix by the caller. */
export function cmdletTeamsAdmin(invoke: Invoke, describe: () => string): Omit<TeamsAdmin, 'adapter' | 'close'> {
  async function lookUp(upns: string[]): Promise<Map<string, ApplicationInstance>> {
    const found = new Map<string, ApplicationInstance>();
    await Promise.all(chunks(upns, IDENTITIES_CHUNK).map(async (chunk) => {
      const output = await readOrNone(invoke, 'Get-CsOnlineApplicationInstance', chunk.length === 1 ? { Identity: chunk[0] as string } : { Identities: chunk.join(',') });
      for (const raw of output) {
        const instance = instanceOf(raw);
        const key = instance.userPrincipalName.toLowerCase();
        if (chunk.includes(key)) found.set(key, instance);
      }
    }));
    return found;
  }

  const lookups = new GatheredLookups(lookUp);

  const verbs: Omit<TeamsAdmin, 'adapter' | 'close'> = {
    /**
     * Lookups that arrive within the gathering time ({@link GatheredLookups}) of each other share their commands (one
     * `-Identities` lookup per {@link IDENTITIES_CHUNK} UPNs). The commands are sent only after every
     * lookup they serve was asked, so they never answer from an older read.
     */
    findByUpn(upn: string): Promise<ApplicationInstance | undefined> {
      return lookups.get(upn.toLowerCase());
    },

    async create(input): Promise<ApplicationInstance> {
      const { output } = await invokeWith(invoke, 'New-CsOnlineApplicationInstance',
        { UserPrincipalName: input.userPrincipalName, ApplicationId: input.applicationId, DisplayName: input.displayName }, 'Stop');
      const created = output.map(instanceOf).find((instance) => instance.objectId !== '');
      if (!created) {
        throw new TeamsAdminError('transient', 'New-CsOnlineApplicationInstance returned without naming the new object; look it up before creating again', { code: 'UnexpectedAnswer' });
      }
      return created;
    },

    async findVoiceApp(configurationType: ConfigurationType, identity: string): Promise<VoiceApp | undefined> {
      const cmdlet: Cmdlet = configurationType === 'CallQueue' ? 'Get-CsCallQueue' : 'Get-CsAutoAttendant';
      const [app] = await readOrNone(invoke, cmdlet, { Identity: identity });
      if (!app) return undefined;
      return { identity: text(field(app, 'Identity')) || identity, name: text(field(app, 'Name')), configurationType };
    },

    async getAssociation(objectId: string): Promise<Association | undefined> {
      const output = await readOrNone(invoke, 'Get-CsOnlineApplicationInstanceAssociation', { Identity: objectId });
      // TeamsFunctions: "if ($null -eq $ExistingConnection.ConfigurationId)" is no association.
      const found = output.find((item) => text(field(item, 'ConfigurationId')) !== '');
      if (!found) return undefined;
      const priority = Number(field(found, 'CallPriority'));
      return {
        objectId: (text(field(found, 'Id')) || objectId).toLowerCase(),
        configurationId: text(field(found, 'ConfigurationId')),
        configurationType: text(field(found, 'ConfigurationType')) as ConfigurationType,
        ...(Number.isInteger(priority) && priority > 0 ? { callPriority: priority } : {}),
      };
    },

    async associate(input: AssociateInput): Promise<Association> {
      const parameters: Record<string, ParameterValue> = {
        Identities: [input.objectId],
        ConfigurationId: input.configurationId,
        ConfigurationType: input.configurationType,
        ...(input.callPriority !== undefined ? { CallPriority: input.callPriority } : {}),
      };
      const { output } = await invokeWith(invoke, 'New-CsOnlineApplicationInstanceAssociation', parameters, 'Stop');
      assertItemsSucceeded('New-CsOnlineApplicationInstanceAssociation', output);
      return {
        objectId: input.objectId,
        configurationId: input.configurationId,
        configurationType: input.configurationType,
        ...(input.callPriority !== undefined ? { callPriority: input.callPriority } : {}),
      };
    },

    /**
     * What `Remove-…Association` writes for an account with none is not public, so a refusal that is
     * not about rights, tokens or the service is checked against what is there: gone means `false`.
     */
    async removeAssociation(objectId: string): Promise<boolean> {
      try {
        const { output } = await invokeWith(invoke, 'Remove-CsOnlineApplicationInstanceAssociation', { Identities: [objectId] }, 'Stop');
        assertItemsSucceeded('Remove-CsOnlineApplicationInstanceAssociation', output);
        return true;
      } catch (err) {
        if (!(err instanceof TeamsAdminError) || saysNothingAboutTheObject({ kind: err.kind, by: 'status' })) throw err;
        if (await verbs.getAssociation(objectId)) throw err;
        return false;
      }
    },

    /**
     * A bounded read that proves the session is connected and authorised: a lookup of an identity no
     * instance has (a refused token or a missing role fails it; "none" passes). Never a listing.
     */
    async probe(): Promise<{ detail: string }> {
      const output = await readOrNone(invoke, 'Get-CsOnlineApplicationInstance', { Identity: randomUUID() });
      return { detail: `${describe()} connected; Get-CsOnlineApplicationInstance -Identity answered (${output.length} found for an unused id)` };
    },
  };
  return verbs;
}
