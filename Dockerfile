# Build a static podium binary, then ship it alone.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /podium ./cmd/podium

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /podium /podium
ENV PODIUM_ADDR=:8080 PODIUM_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/podium"]
CMD ["serve"]
