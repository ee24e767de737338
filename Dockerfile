# `bamba serve` on the CPU, with the default model:
#   docker build -t bamba .
#   docker run --rm -p 8000:8000 bamba
# Another model: mount it and name it, e.g.
#   docker run --rm -p 8000:8000 -v /path/to/model:/model bamba serve --model /model --host 0.0.0.0
# A CUDA variant is described in docs/server.md ("In a container").
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Bamba.Cli -c Release -o /app

# The server runs on ASP.NET Core, so the runtime image is the ASP.NET one.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
COPY models/default /models/default
EXPOSE 8000
ENTRYPOINT ["dotnet", "/app/bamba.dll"]
CMD ["serve", "--model", "/models/default", "--host", "0.0.0.0", "--port", "8000"]
