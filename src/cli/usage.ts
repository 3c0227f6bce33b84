/** The `bgexec --help` text. */
export const USAGE = `Usage: bgexec [--dir DIR] [--json] COMMAND [options]

See and steer the background tasks of a program that keeps them in a bgexec JSON store.
DIR is the store directory (or set BGEXEC_DIR). Reading commands work on their own; commands
that change something are requests served by the store's owner (the program, or 'bgexec run').

Reading
  ls [-s STATUS]... [-g GROUP] [-t TAG]... [--session S] [-n LIMIT]   list tasks
  show ID                                    one task in full, with its attempts
  logs ID [-e|--stderr] [--tail N | --head N] [-f] [-a ATTEMPT]
                                             its output; -f follows it until the task ends
  wait ID... [--timeout DURATION]            until the tasks end; exits with the task's exit code

Steering (needs a live owner)
  kill ID... [--grace DURATION]              cancel: TERM the process tree, KILL after the grace
  retry ID                                   run a waiting task now; rerun a finished one as a new task
  priority ID N                              change the priority of a queued task
  pause [GROUP] | resume [GROUP]             stop or restart admitting tasks (all, or one group)
  submit [options] -- COMMAND [ARG...]       queue a task; prints its id. One word runs through
                                             /bin/sh -c; several run the program directly
      -p N priority   -g GROUP   --timeout D   -r N retries   --backoff D   --delay D
      -t TAG...   --cwd DIR (default: here)   --env K=V...   --session S   --detached   --grace D
      -i, --interactive  its stdin is a pipe fed by 'send'    --tty  run it on a terminal
  send ID TEXT... [-N] [--close]             type a line into a task started with -i (-N: no newline);
  send ID - [--close]                        send this command's stdin as is; --close: end its input
  prune [--older-than DURATION] [--keep N] [-s STATUS]...   forget finished tasks and their output

Serving
  run [-c N] [--exit-when-idle] [--grace D]  own the store and run its tasks in this terminal
  mcp [--session S] [--strict] [--max-output-chars N] [--max-wait D] [--timeout D]
                                             serve the agent tools for this store over MCP (stdio)

--version prints the version. Durations: 500ms, 30s, 5m, 2h, 1d (a bare number is ms). --json prints the records as JSON.
Exit codes: 0 ok, 1 error, 2 usage, 3 no owner running, 4 no such task, 5 refused by the owner,
6 no answer from the owner; wait: the task's exit code, 128+N for signal N, 124 timeout,
125 no exit code. Colours only on a terminal, never with NO_COLOR. Details: docs/cli.md.
`;
