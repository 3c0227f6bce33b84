/**
 * Thrown by `createMcpServer` (and the `bgexec-mcp` command) when `@modelcontextprotocol/sdk`
 * cannot be loaded. `code` is `MCP_SDK_MISSING`; the message says how to install it.
 */
export class McpSdkMissingError extends Error {
  /** Always `MCP_SDK_MISSING`. */
  readonly code = 'MCP_SDK_MISSING';
  constructor(cause: unknown) {
    super(
      'bgexec/mcp needs the MCP SDK, an optional peer dependency of bgexec: install it with ' +
        '`npm install @modelcontextprotocol/sdk` (or run `npx -y -p bgexec -p @modelcontextprotocol/sdk bgexec-mcp`).',
      { cause },
    );
    this.name = 'McpSdkMissingError';
  }
}
