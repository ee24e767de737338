using Bamba;
using Bamba.Cli;

return CliHost.Run(args, Console.Out, Console.Error);
