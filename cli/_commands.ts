// Every CLI command, by name, in the order `--help` lists them. Each command
// takes parsed options and an output sink and returns nothing; errors are
// thrown and mapped to exit codes by cli/_errors.ts.
import type { Command } from "./_context.ts";
import { ADMIN_COMMANDS } from "./_admin_commands.ts";
import { CHECKPOINT_COMMANDS } from "./_checkpoint_commands.ts";
import { STATUS_COMMAND } from "./_history.ts";
import { MIGRATE_COMMANDS } from "./_migrate_commands.ts";
import { MCP_COMMAND } from "../mcp/command.ts";
import { STEP_COMMANDS } from "./_step_commands.ts";
import { UI_COMMANDS } from "../ui/_command.ts";
import { STATE_COMMANDS } from "./_state_commands.ts";
import { UPDATE_COMMANDS } from "./_update_commands.ts";

/** Every command, by name. */
export const COMMANDS: Record<string, Command> = {
  ...STATE_COMMANDS,
  ...UPDATE_COMMANDS,
  ...STATUS_COMMAND,
  ...CHECKPOINT_COMMANDS,
  ...ADMIN_COMMANDS,
  ...MIGRATE_COMMANDS,
  ...STEP_COMMANDS,
  ...UI_COMMANDS,
  mcp: MCP_COMMAND,
};
