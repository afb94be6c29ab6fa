namespace Cinnabar.Server;

/// <summary>Scripting and function error texts (Redis 7.0 eval.c / function_lua.c / functions.c / script.c).</summary>
public static partial class Errors
{
    public const string NoScript = "NOSCRIPT No matching script. Please use EVAL.";
    public const string NotBusy = "NOTBUSY No scripts in execution right now.";
    public const string UnkillableFromMaster = "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.";
    public const string Unkillable = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
    public const string NumKeysTooBig = "ERR Number of keys can't be greater than number of args";
    public const string NumKeysNegative = "ERR Number of keys can't be negative";
    public const string ScriptUnknownCommand = "ERR Unknown Redis command called from script";
    public const string ScriptWrongArity = "ERR Wrong number of args calling Redis command from script";
    public const string ScriptNotAllowed = "ERR This Redis command is not allowed from script";
    public const string ScriptWriteInReadOnly = "ERR Write commands are not allowed from read-only scripts.";
    public const string ScriptStaleReplica = "ERR Can not execute the command on a stale replica";
    public const string ScriptWriteFlagWithRo = "ERR Can not execute a script with write flag using *_ro command.";
    public const string ScriptFlushOption = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
    public const string FunctionFlushOption = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
    public const string FunctionNotFound = "ERR Function not found";
    public const string LibraryNotFound = "ERR Library not found";
    public const string LibraryMissingMetadata = "ERR Missing library metadata";
    public const string LibraryNameMissing = "ERR Library name was not given";
    public const string NoFunctionsRegistered = "ERR No functions registered";
    public const string LibraryNameArgMissing = "ERR library name argument was not given";
    public const string BadDumpPayload = "ERR DUMP payload version or checksum are wrong";
    public const string BadRestorePolicy = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";
    public const string LibraryInvalidMetadata = "ERR Invalid library metadata";
    public const string LibraryNameGivenTwice = "ERR Invalid metadata value, name argument was given multiple times";
    public const string LibraryNameInvalid = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

}
