/**
 * Everything the routes share: the resolved options, the behaviour currently in force, the tenant state
 * and the services around it. One context per simulator instance; no module-level state.
 */
import { TokenService } from './auth';
import type { Delay, ResolvedOptions, SimulatedApp, SimulatorBehaviour } from './options';
import { StateStore } from './persistence';
import type { Random } from './random';
import { createRandom, drawDelay } from './random';
import { RequestLog } from './request-log';
import { TenantState } from './state';
import { ThrottleTracker } from './throttle';
import { DEFAULT_VOICE_APPS } from './catalog';

export class SimulatorContext {
  /** Behaviour in force; `PUT /_simulator/config` replaces it. */
  behaviour: SimulatorBehaviour;
  /** App registrations in force; `PUT /_simulator/apps/{clientId}` changes their permissions and roles. */
  apps: SimulatedApp[];
  /** App registrations of the CSP partner's tenant (the apps Partner Center knows). */
  partnerApps: SimulatedApp[];
  state: TenantState;
  random: Random;
  readonly now: () => number;
  readonly tokens: TokenService;
  readonly throttle = new ThrottleTracker();
  readonly requests = new RequestLog();
  /** Keeps the tenant state in `options.stateFile`; absent when the state lives in memory only. */
  readonly store: StateStore | undefined;
  /** Whether the tenant state came from `options.stateFile` rather than from the seed options. */
  readonly restored: boolean;

  constructor(readonly options: ResolvedOptions) {
    this.now = options.now;
    this.behaviour = options.behaviour;
    this.apps = options.apps.map((app) => ({ ...app }));
    this.partnerApps = options.partner.apps.map((app) => ({ ...app }));
    this.random = createRandom(options.seed);
    this.tokens = new TokenService(options.tenantId, options.now);
    this.store = options.stateFile === undefined
      ? undefined
      : new StateStore(options.stateFile, options.tenantId, () => this.state, this.now);
    const restored = this.emptyState();
    this.restored = this.store?.loadInto(restored) ?? false;
    this.state = this.restored ? restored : this.seededState();
    // A first write at start-up: a state file that cannot be written fails now, not on some later request.
    this.store?.saveAtStartUp();
  }

  /** Draws a delay and applies the time scale, in ms. */
  scaled(delay: Delay): number {
    return drawDelay(delay, this.random) * this.behaviour.timeScale;
  }

  findApp(clientId: string): SimulatedApp | undefined {
    return this.apps.find((app) => app.clientId.toLowerCase() === clientId.toLowerCase());
  }

  /** An app of the partner's tenant (Partner Center's side). */
  findPartnerApp(clientId: string): SimulatedApp | undefined {
    return this.partnerApps.find((app) => app.clientId.toLowerCase() === clientId.toLowerCase());
  }

  /**
   * Back to the seeded state, the start-up behaviour and the start-up apps, saved at once when there is a state file (an
   * I/O error then fails the reset). The signing key is kept, so tokens already issued stay valid.
   */
  reset(): void {
    this.behaviour = this.options.behaviour;
    this.apps = this.options.apps.map((app) => ({ ...app }));
    this.partnerApps = this.options.partner.apps.map((app) => ({ ...app }));
    this.random = createRandom(this.options.seed);
    this.throttle.reset();
    this.requests.reset();
    this.state = this.seededState();
    this.store?.save();
  }

  private emptyState(): TenantState {
    return new TenantState(
      { tenantId: this.options.tenantId, domains: this.options.domains },
      { now: this.now, delay: (name) => this.scaled(this.behaviour.delays[name]) },
    );
  }

  private seededState(): TenantState {
    const { options } = this;
    const state = this.emptyState();
    for (const license of options.licenses) state.purchase(license.skuPartNumber, license.units);
    for (const number of options.numbers) state.addNumber(number);
    for (const user of options.users) state.addUser(user, { replicated: true });
    for (const app of DEFAULT_VOICE_APPS) state.voiceApps.set(app.identity.toLowerCase(), { ...app });
    // Statuses last: seeded users held their licenses before a subscription lapsed.
    for (const license of options.licenses) {
      if (license.capabilityStatus !== undefined) state.setSubscriptionStatus(license.skuPartNumber, license.capabilityStatus);
    }
    return state;
  }
}
