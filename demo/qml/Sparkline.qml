import QtQuick

// A small line chart of the last samples added with add().
Canvas {
    id: chart

    property var samples: []
    property int capacity: 80
    property color lineColor: "#3d8bfd"
    property real floor: 1

    function add(value) {
        const s = chart.samples.slice(-(chart.capacity - 1));
        s.push(value);
        chart.samples = s;
        chart.requestPaint();
    }

    onPaint: {
        const ctx = getContext("2d");
        ctx.reset();
        ctx.fillStyle = "#0c0f14";
        ctx.fillRect(0, 0, width, height);
        if (samples.length < 2)
            return;
        const top = Math.max(floor, Math.max.apply(null, samples));
        ctx.strokeStyle = lineColor;
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        for (let i = 0; i < samples.length; ++i) {
            const x = width * i / (capacity - 1);
            const y = height - 2 - (height - 4) * samples[i] / top;
            if (i === 0)
                ctx.moveTo(x, y);
            else
                ctx.lineTo(x, y);
        }
        ctx.stroke();
    }
}
