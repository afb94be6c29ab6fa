using System.Text;

namespace Cinnabar.Server.Acl;

/// <summary>ACL file (ACL LOAD / ACL SAVE), "user" lines of the config file, and CONFIG REWRITE of them.</summary>
public sealed partial class AclManager
{
    private string AclFileName => Server.Config.AclFile;

    /// <summary>"user name rules..." for every user, in name order (ACL LIST, ACL SAVE, CONFIG REWRITE).</summary>
    public List<string> DescribeAll()
    {
        var lines = new List<string>();
        foreach (var u in _users.Values) lines.Add("user " + u.Name + " " + u.Describe(this));
        return lines;
    }

    /// <summary>
    /// ACLLoadUsersAtStartup: users from the config file's "user" lines, then the ACL file.
    /// Returns null or the reason startup must abort (already logged).
    /// </summary>
    public string? LoadAtStartup()
    {
        var lines = Server.Config.UserLines;
        if (AclFileName.Length > 0 && lines.Count > 0)
        {
            const string msg = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";
            Server.Log.Warning(msg);
            return msg;
        }
        foreach (var argv in lines)
        {
            string name = Latin1(Encoding.UTF8.GetBytes(argv[0]));
            if (AclSelector.HasSpaces(name))
            {
                Server.Log.Warning("Spaces not allowed in ACL usernames");
                return "Critical error while loading ACLs. Exiting.";
            }
            var merged = MergeSelectorArguments(argv.Skip(1).Select(a => Latin1(Encoding.UTF8.GetBytes(a))).ToList(), out int bad);
            if (merged == null)
            {
                Server.Log.Warning($"Unmatched parenthesis in acl selector starting at '{argv[bad + 1]}'.");
                return "Critical error while loading ACLs. Exiting.";
            }
            var u = GetUser(name);
            if (u == null) _users[name] = u = new AclUser(this, name);
            else u.Apply(this, "reset");
            foreach (var op in merged)
            {
                var e = u.Apply(this, op);
                if (e != AclOpError.None)
                {
                    Server.Log.Warning($"Error loading ACL rule '{op}' for the user named '{name}': {ErrorText(e)}");
                    Server.Log.Warning("Critical error while loading ACLs. Exiting.");
                    return "Critical error while loading ACLs. Exiting.";
                }
            }
            u.Refresh();
            if (!u.Enabled)
                Server.Log.Notice($"The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
        }
        if (AclFileName.Length > 0)
        {
            var errors = LoadFromFile(AclFileName, null);
            if (errors != null)
            {
                Server.Log.Warning("Aborting Redis startup because of ACL errors: " + errors);
                return errors;
            }
        }
        return null;
    }

    /// <summary>
    /// ACLLoadFromFile: every line must be "user name rules..."; the file is applied to a fresh set
    /// of users and only if it has no error at all. Then the default user keeps its identity (its
    /// rules are copied in) and every other old user's clients are disconnected.
    /// Returns null or the error report.
    /// </summary>
    public string? LoadFromFile(string path, Client? current)
    {
        string text;
        try { text = Latin1(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory" : e is UnauthorizedAccessException ? "Permission denied" : e.Message;
            return $"Error loading ACLs, opening file '{path}': {reason}";
        }
        var fresh = new SortedDictionary<string, AclUser>(StringComparer.Ordinal);
        var errors = new StringBuilder();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNo = i + 1;
            string line = lines[i].Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0) continue;
            var argv = line.Split(' ');
            if (argv[0] != "user" || argv.Length < 2)
            {
                errors.Append($"{AclFileName}:{lineNo} should start with user keyword followed by the username. ");
                continue;
            }
            if (AclSelector.HasSpaces(argv[1]))
            {
                errors.Append($"'{AclFileName}:{lineNo}: username '{argv[1]}' contains invalid characters. ");
                continue;
            }
            if (fresh.ContainsKey(argv[1]))
            {
                errors.Append($"WARNING: Duplicate user '{argv[1]}' found on line {lineNo}. ");
                continue;
            }
            var u = new AclUser(this, argv[1]);
            fresh[argv[1]] = u;
            var merged = MergeSelectorArguments(argv.Skip(2).ToList(), out _);
            if (merged == null)
            {
                errors.Append($"{AclFileName}:{lineNo}: Unmatched parenthesis in selector definition.");
                continue;
            }
            bool syntaxError = false;
            foreach (var raw in merged)
            {
                string op = raw.Trim('\t', '\r', '\n');
                var e = u.Apply(this, op);
                if (e == AclOpError.None) continue;
                if (e == AclOpError.UnknownCommand)
                    errors.Append($"{AclFileName}:{lineNo}: Error in applying operation '{op}': {ErrorText(e)}. ");
                else if (!syntaxError)
                {
                    errors.Append($"{AclFileName}:{lineNo}: {ErrorText(e)}. ");
                    syntaxError = true;
                }
            }
            u.Refresh();
        }
        if (errors.Length > 0)
            return errors.Append("WARNING: ACL errors detected, no change to the previously active ACL rules was performed").ToString();

        var newDefault = fresh.TryGetValue("default", out var d) ? d : CreateDefaultUser();
        DefaultUser.CopyFrom(newDefault);
        fresh["default"] = DefaultUser;
        var old = _users.Values.Where(u => u != DefaultUser).ToList();
        _users.Clear();
        foreach (var (k, v) in fresh) _users[k] = v;
        foreach (var u in old) KillClientsOf(u, current);
        return null;
    }

    /// <summary>ACLSaveToFile: writes a temporary file and renames it over the ACL file.</summary>
    public bool SaveToFile()
    {
        var sb = new StringBuilder();
        foreach (var l in DescribeAll()) sb.Append(l).Append('\n');
        string tmp = $"{AclFileName}.tmp-{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
        try
        {
            File.WriteAllBytes(tmp, Encoding.Latin1.GetBytes(sb.ToString()));
            File.Move(tmp, AclFileName, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Server.Log.Warning("Writing ACL file for ACL SAVE: " + e.Message);
            try { File.Delete(tmp); } catch (IOException) { }
            return false;
        }
    }

    /// <summary>CONFIG REWRITE's "user" lines: none (old ones dropped) when an ACL file is in use.</summary>
    public List<string> ConfigRewriteLines() => AclFileName.Length > 0 ? new List<string>() : DescribeAll();
}
