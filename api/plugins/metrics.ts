/**
 * A tiny Prometheus collector: request counts and durations by method, route and status, served at
 * GET /metrics in the text exposition format. Routes are the registered patterns (never raw URLs,
 * which would let callers create unbounded label values).
 */
import fp from 'fastify-plugin';

interface Series {
  labels: string;
  count: number;
  seconds: number;
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export default fp(
  async (fastify) => {
    const series = new Map<string, Series>();
    fastify.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = `method="${label(request.method)}",route="${label(route)}",status_code="${reply.statusCode}"`;
      const entry = series.get(labels) ?? { labels, count: 0, seconds: 0 };
      entry.count += 1;
      entry.seconds += reply.elapsedTime / 1000;
      series.set(labels, entry);
    });
    fastify.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics', response: { 200: { type: 'string' } } } },
      async (_request, reply) => {
        const rows = [...series.values()];
        const lines = [
          '# HELP dialtone_api_requests_total HTTP requests answered, by method, route and status code.',
          '# TYPE dialtone_api_requests_total counter',
          ...rows.map((s) => `dialtone_api_requests_total{${s.labels}} ${s.count}`),
          '# HELP dialtone_api_request_duration_seconds Time spent answering HTTP requests.',
          '# TYPE dialtone_api_request_duration_seconds summary',
          ...rows.flatMap((s) => [
            `dialtone_api_request_duration_seconds_sum{${s.labels}} ${s.seconds}`,
            `dialtone_api_request_duration_seconds_count{${s.labels}} ${s.count}`,
          ]),
        ];
        return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${lines.join('\n')}\n`);
      },
    );
  },
  { name: 'metrics', fastify: '5.x' },
);
