/**
 * Everything the routes share: the resolved options, the behaviour currently in force, the tenant state
 * and the services around it. One context per simulator instance; no module-level state.
 */
import { TokenService } from './auth';
import type { Delay, ResolvedOptions, SimulatedApp, SimulatorBehaviour } from './options';
import type { Random } from './random';
import { createRandom, drawDelay } from './random';
import { RequestLog } from './request-log';
import { TenantState } from './state';
import { ThrottleTracker } from './throttle';

export class SimulatorContext {
  /** Behaviour in force; `PUT /_simulator/config` replaces it. */
  behaviour: SimulatorBehaviour;
  state: TenantState;
  random: Random;
  readonly now: () => number;
  readonly tokens: TokenService;
  readonly throttle = new ThrottleTracker();
  readonly requests = new RequestLog();

  constructor(readonly options: ResolvedOptions) {
    this.now = options.now;
    this.behaviour = options.behaviour;
    this.random = createRandom(options.seed);
    this.tokens = new TokenService(options.tenantId, options.now);
    this.state = this.seededState();
  }

  /** Draws a delay and applies the time scale, in ms. */
  scaled(delay: Delay): number {
    return drawDelay(delay, this.random) * this.behaviour.timeScale;
  }

  findApp(clientId: string): SimulatedApp | undefined {
    return this.options.apps.find((app) => app.clientId.toLowerCase() === clientId.toLowerCase());
  }

  /** Back to the state and behaviour of start-up. The signing key is kept, so tokens already issued stay valid. */
  reset(): void {
    this.behaviour = this.options.behaviour;
    this.random = createRandom(this.options.seed);
    this.throttle.reset();
    this.requests.reset();
    this.state = this.seededState();
  }

  private seededState(): TenantState {
    const { options } = this;
    const state = new TenantState(
      { tenantId: options.tenantId, domains: options.domains },
      { now: this.now, delay: (name) => this.scaled(this.behaviour.delays[name]) },
    );
    for (const license of options.licenses) state.purchase(license.skuPartNumber, license.units);
    for (const number of options.numbers) state.addNumber(number);
    for (const user of options.users) state.addUser(user, { replicated: true });
    return state;
  }
}
