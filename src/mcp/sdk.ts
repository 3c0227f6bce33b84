// The MCP SDK is an optional peer dependency: it is loaded here, on first use, so that
// `bgexec/mcp` can be imported (and its types checked) without it, and the core package keeps
// its three runtime dependencies.
import { McpSdkMissingError } from './errors.js';

type ServerModule = typeof import('@modelcontextprotocol/sdk/server/index.js');
type StdioModule = typeof import('@modelcontextprotocol/sdk/server/stdio.js');
type TypesModule = typeof import('@modelcontextprotocol/sdk/types.js');

/** The parts of `@modelcontextprotocol/sdk` the server uses. */
export interface McpSdk {
  Server: ServerModule['Server'];
  StdioServerTransport: StdioModule['StdioServerTransport'];
  CallToolRequestSchema: TypesModule['CallToolRequestSchema'];
  ListToolsRequestSchema: TypesModule['ListToolsRequestSchema'];
}

let loading: Promise<McpSdk> | undefined;

/** Loads the SDK once; rejects with {@link McpSdkMissingError} when it is not installed. */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= (async () => {
    try {
      const [server, stdio, types] = await Promise.all([
        import('@modelcontextprotocol/sdk/server/index.js'),
        import('@modelcontextprotocol/sdk/server/stdio.js'),
        import('@modelcontextprotocol/sdk/types.js'),
      ]);
      return {
        Server: server.Server,
        StdioServerTransport: stdio.StdioServerTransport,
        CallToolRequestSchema: types.CallToolRequestSchema,
        ListToolsRequestSchema: types.ListToolsRequestSchema,
      };
    } catch (err) {
      loading = undefined; // installed later in the same process: try again next time
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new McpSdkMissingError(err);
      throw err;
    }
  })();
  return loading;
}
