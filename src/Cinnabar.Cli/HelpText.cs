namespace Cinnabar.Cli;

internal static class HelpText
{
    public const string Usage = """
redis-cli 7.0.15 (cinnabar-cli)

Usage: cinnabar-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server (or REDISCLI_AUTH).
  --user <username>  Username for ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a.
  -u <uri>           Server URI: redis://[user[:password]@]host[:port][/db].
  -r <repeat>        Execute the command N times (-1: forever).
  -i <interval>      Seconds to wait between repeated commands (may be fractional).
  -n <db>            Database number.
  -2 / -3            Start the session in RESP2 / RESP3 mode.
  -x                 Read the last argument from STDIN.
  -X <tag>           Read the argument equal to <tag> from STDIN.
  --askpass          Read the password from STDIN (masked at a terminal).
  -d <delimiter>     Delimiter between response bulks for raw formatting (default: \n).
  -D <delimiter>     Delimiter between responses for raw formatting (default: \n).
  -c                 Cluster mode: follow -ASK and -MOVED redirections.
  -e                 Exit with code 1 when a command replies with an error.
  --raw              Raw formatting of replies (default when STDOUT is not a tty).
  --no-raw           Formatted output even when STDOUT is not a tty.
  --csv              Output in CSV format.
  --json             Output in JSON format (RESP3 by default; -2 keeps RESP2).
  --quoted-json      Same as --json, with ASCII-safe quoted strings.
  --quoted-input     Take the command's arguments as quoted strings.
  --show-pushes <yn> Print RESP3 push messages (default: yes when STDOUT is a tty).
  --scan             List all keys using the SCAN command.
  --pattern <pat>    Keys pattern for --scan (default: *).
  --quoted-pattern <pat> Same as --pattern, but the pattern may be quoted.
  --count <count>    COUNT hint for each SCAN of --scan.
  --eval <file>      Send an EVAL command using the Lua script at <file>
                     (a "," argument separates KEYS[] from ARGV[]).
  --ldb              With --eval: debug the script with the server's Lua debugger.
  --ldb-sync-mode    Like --ldb, with the synchronous debugger (changes are kept).
  --pipe             Transfer raw Redis protocol from STDIN to the server.
  --pipe-timeout <n> Seconds to wait for the last reply in --pipe mode (0: forever).
  --no-auth-warning  Don't warn about passwords on the command line.
  --help             Output this help and exit.
  --version          Output version and exit.

When no command is given, cinnabar-cli starts in interactive mode: line editing, history
in ~/.rediscli_history (REDISCLI_HISTFILE), hints and "help <command>" / "help @<group>".

""";

    public const string Repl = """
redis-cli 7.0.15
To get help about Redis commands type:
      "help @<group>" to get a list of commands in <group>
      "help <command>" for help on <command>
      "help <tab>" to get a list of possible help topics
      "quit" to exit

To set redis-cli preferences:
      ":set hints" enable online hints
      ":set nohints" disable online hints
Set your preferences in ~/.redisclirc

""";
}
