// The network room's contract: networks as Docker shows them, the endpoint a running
// container has on each, and what the container room asks of the room (declared here as data,
// so the container room depends on this file's types only).

export interface NetworkRecord {
  Id: string;
  Name: string;
  /** bridge for Strata's own networks; host and null for the built-in ones. */
  Driver: 'bridge' | 'host' | 'null';
  Created: string;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  /** IPv4 subnet in CIDR form; chosen at first use when the user gave none. */
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
  /** Whether the user gave the subnet (then it is never moved). */
  userSubnet: boolean;
  /** The host bridge interface netavark creates. */
  bridge: string;
  /** Name resolution (aardvark-dns) on this network: user-defined bridges only, as in Docker. */
  dns: boolean;
  /** Docker's predefined networks (bridge, host, none): never removed or pruned. */
  builtin: boolean;
}

/** Docker's EndpointSettings (inspect's NetworkSettings.Networks.<name>). */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
}

/** One published port as netavark takes it. */
export interface PortMapping {
  host_ip: string;
  host_port: number;
  container_port: number;
  protocol: 'tcp' | 'udp';
  range: number;
}

/** What a container asks for on one network. */
export interface EndpointRequest {
  aliases: string[];
  ipv4?: string;
}

export interface AttachRequest {
  containerId: string;
  containerName: string;
  hostname: string;
  /** Network name or ID → what the container asks for on it. */
  networks: Record<string, EndpointRequest>;
  ports: PortMapping[];
  /** --dns servers for aardvark-dns to forward to, if any. */
  dnsServers: string[];
}

export interface Attachment {
  netnsPath: string;
  /** By network name. */
  endpoints: Record<string, EndpointSettings>;
  /** Nameservers for resolv.conf: the DNS server of a user-defined network, else none (the host's). */
  nameservers: string[];
  ports: PortMapping[];
}

/** What the container room needs from the network room. */
export interface ContainerNetworking {
  /** NotFound `network X not found` when a network does not exist. */
  resolve(ref: string): NetworkRecord;
  attach(req: AttachRequest): Promise<Attachment>;
  detach(containerId: string): Promise<void>;
  /** Adds or removes one network of a running container (docker network connect/disconnect). */
  connect(req: AttachRequest, network: string): Promise<Attachment>;
  disconnect(containerId: string, network: string): Promise<Attachment>;
  /** The running attachment of a container, if any. */
  attachmentOf(containerId: string): Attachment | undefined;
}
