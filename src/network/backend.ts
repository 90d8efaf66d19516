// The network room's roles at the API boundary, split as moby's router/network/backend.go splits
// its backend: what is known of networks, and what creates and removes them. api/networks.ts
// names only these roles (connecting a container is the container room's ContainerEndpoints);
// nothing is optional, so a caller never probes. NetworkBackend, their sum, is what the engine
// hands the API; the daemon alone keeps the class, whose endpoint verbs are the container room's.
import type { CreateNetworkBody } from './create.js';

export type { CreateNetworkBody } from './create.js';

/** Networks in Docker's JSON (moby's GetNetworks and inspect). */
export interface NetworkViews {
  /** GET /networks; InvalidParameter for a filter Docker does not know. */
  list(filters: Map<string, string[]>): Record<string, unknown>[];
  /** NotFound `network X not found` (the docker CLI's untyped inspect relies on the 404). */
  inspect(ref: string): Record<string, unknown>;
}

/** Create, remove and prune (moby's CreateNetwork, DeleteNetwork, NetworksPrune). */
export interface NetworkMutations {
  /** Checks the request field by field; Conflict for a name or subnet in use. */
  create(body: CreateNetworkBody): { Id: string; Warning: string };
  /**
   * Forbidden for a predefined network or one with active endpoints. What the network left on
   * the host (a bridge, its chains) goes first, even when its teardown had failed.
   */
  remove(ref: string): Promise<void>;
  prune(filters: Map<string, string[]>): Promise<{ NetworksDeleted: string[] | null }>;
}

export type NetworkBackend = NetworkViews & NetworkMutations;
